package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/config/crd"
)

// schema is the compiled WebStack schema: structural form (defaults, pruning, CEL) and the
// OpenAPI validator, built once from the embedded CRD.
type schema struct {
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

var loadSchema = sync.OnceValues(func() (*schema, error) {
	var v1crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(crd.WebStackYAML, &v1crd); err != nil {
		return nil, fmt.Errorf("reading the embedded WebStack CRD: %w", err)
	}
	var internal apiextensionsinternal.CustomResourceDefinition
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&v1crd, &internal, nil); err != nil {
		return nil, fmt.Errorf("converting the embedded WebStack CRD: %w", err)
	}
	// The internal form keeps a schema shared by every version in spec.validation.
	validation := internal.Spec.Validation
	for _, v := range internal.Spec.Versions {
		if v.Name == v1alpha1.GroupVersion.Version && v.Schema != nil {
			validation = v.Schema
		}
	}
	if validation != nil {
		s, err := structuralschema.NewStructural(validation.OpenAPIV3Schema)
		if err != nil {
			return nil, fmt.Errorf("the embedded WebStack CRD schema is not structural: %w", err)
		}
		validator, _, err := apiservervalidation.NewSchemaValidator(validation.OpenAPIV3Schema)
		if err != nil {
			return nil, fmt.Errorf("compiling the embedded WebStack CRD schema: %w", err)
		}
		return &schema{structural: s, openAPI: validator, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}, nil
	}
	return nil, fmt.Errorf("the embedded WebStack CRD has no %s schema", v1alpha1.GroupVersion.Version)
})

// Load reads the first WebStack from a YAML or JSON file (path "-" reads standard input),
// applies the CRD's defaults and validates it as the API server would.
func Load(path string) (*v1alpha1.WebStack, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	ws, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ws, nil
}

// Decode returns the first WebStack of a (multi-document) YAML or JSON stream, with the
// CRD's defaults applied and validated as the API server would. Other kinds are skipped.
func Decode(data []byte) (*v1alpha1.WebStack, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("no WebStack (apiVersion webstack.dev/v1alpha1, kind WebStack) found")
			}
			return nil, fmt.Errorf("document %d is not valid YAML or JSON: %w", doc, err)
		}
		// utiljson keeps whole numbers as int64, as the API server's decoder does.
		var obj map[string]any
		if len(bytes.TrimSpace(raw)) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			if err := utiljson.Unmarshal(raw, &obj); err != nil {
				return nil, fmt.Errorf("document %d is not a YAML or JSON object: %w", doc, err)
			}
		}
		if obj == nil {
			continue
		}
		if kind, _ := obj["kind"].(string); kind != "WebStack" {
			continue
		}
		if apiVersion, _ := obj["apiVersion"].(string); apiVersion != v1alpha1.GroupVersion.String() {
			return nil, fmt.Errorf("document %d: apiVersion %q is not served; use apiVersion: %s", doc, apiVersion, v1alpha1.GroupVersion)
		}
		return admit(obj, nil)
	}
}

// Validate applies the CRD's defaults to ws in place and validates it as a create.
func Validate(ws *v1alpha1.WebStack) error {
	return ValidateUpdate(nil, ws)
}

// ValidateUpdate applies the CRD's defaults to ws in place and validates it as an update from
// old (nil means a create), including the transition rules (storage shrink, version downgrade).
func ValidateUpdate(old, ws *v1alpha1.WebStack) error {
	obj, err := toUnstructured(ws)
	if err != nil {
		return err
	}
	var oldObj map[string]any
	if old != nil {
		if oldObj, err = toUnstructured(old); err != nil {
			return err
		}
	}
	admitted, err := admit(obj, oldObj)
	if err != nil {
		return err
	}
	*ws = *admitted
	return nil
}

func toUnstructured(ws *v1alpha1.WebStack) (map[string]any, error) {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ws)
	if err != nil {
		return nil, fmt.Errorf("converting WebStack %q: %w", ws.Name, err)
	}
	obj["apiVersion"] = v1alpha1.GroupVersion.String()
	obj["kind"] = "WebStack"
	// status is a subresource: the API server ignores it on create and update of the spec.
	delete(obj, "status")
	return obj, nil
}

// admit defaults and validates one WebStack the way the API server does on create (old nil)
// or update: unknown fields are errors (kubectl's strict field validation), then schema
// defaults, OpenAPI validation, list-type rules and CEL rules.
func admit(obj, old map[string]any) (*v1alpha1.WebStack, error) {
	s, err := loadSchema()
	if err != nil {
		return nil, err
	}
	if unknown := structuralpruning.PruneWithOptions(obj, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}); len(unknown) > 0 {
		return nil, fmt.Errorf("unknown field %s: check the spelling against `kubectl explain webstack.spec`", quoteAll(unknown))
	}
	structuraldefaulting.Default(obj, s.structural)
	if old != nil {
		structuraldefaulting.Default(old, s.structural)
	}

	var errs field.ErrorList
	if md, _ := obj["metadata"].(map[string]any); md == nil || md["name"] == nil || md["name"] == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "every WebStack needs a name"))
	}
	if old != nil {
		errs = append(errs, apiservervalidation.ValidateCustomResourceUpdate(nil, obj, old, s.openAPI)...)
	} else {
		errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, s.openAPI)...)
	}
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, s.structural, obj)...)
	if len(errs) == 0 {
		celErrs, _ := s.cel.Validate(context.Background(), nil, s.structural, obj, old, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("the API server would reject this WebStack: %w", errs.ToAggregate())
	}

	var ws v1alpha1.WebStack
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj, &ws, true); err != nil {
		return nil, fmt.Errorf("reading the WebStack: %w", err)
	}
	return &ws, nil
}

func quoteAll(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = fmt.Sprintf("%q", p)
	}
	return strings.Join(q, ", ")
}
