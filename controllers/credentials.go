package controllers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// passwordBytes is the entropy of every generated password.
const passwordBytes = 32

// newPassword returns 32 bytes from crypto/rand, URL-safe base64 encoded (43 characters, no
// padding), so it can go into connection URLs without escaping.
func newPassword() (string, error) {
	b := make([]byte, passwordBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading crypto/rand: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ensureCredentials reads the credential Secrets of the enabled components, creating any that
// do not exist yet. An existing Secret is never rewritten: a WebStack re-created with the same
// name adopts the Secrets a Retain policy kept, and with them the same passwords.
func (r *WebStackReconciler) ensureCredentials(ctx context.Context, s *scope) error {
	ws := s.ws
	var creds resources.Credentials
	for _, c := range resources.CredentialSecrets(ws) {
		data, err := r.credentialSecret(ctx, s, c)
		if err != nil {
			return err
		}
		switch c.Name {
		case resources.DatabaseCredentialsName(ws):
			creds.DatabaseSuperuser = string(data[resources.SuperuserPasswordKey])
			creds.DatabaseApp = string(data[resources.AppPasswordKey])
		case resources.RedisCredentialsName(ws):
			creds.Redis = string(data[resources.PasswordKey])
		case resources.BrokerCredentialsName(ws):
			creds.Broker = string(data[resources.PasswordKey])
		}
	}
	s.credentials = creds
	return nil
}

// credentialSecret returns the data of one credential Secret, creating it with new passwords
// when it does not exist. The cache only holds Secrets labelled as ours, so when it has none
// the Secret is created, and only if that finds one already there (its labels were edited,
// or the cache has not seen our own create yet) is it read past the cache: an existing Secret
// is never overwritten, and a new stack makes no read that can only answer "not found".
func (r *WebStackReconciler) credentialSecret(ctx context.Context, s *scope, c resources.Credential) (map[string][]byte, error) {
	key := client.ObjectKey{Namespace: s.ws.Namespace, Name: c.Name}
	var sec corev1.Secret
	switch err := r.Client.Get(ctx, key, &sec); {
	case err == nil:
		return credentialData(&sec, c)
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading secret %s: %w", c.Name, err)
	}

	data := make(map[string][]byte, len(c.Keys))
	for _, k := range c.Keys {
		pw, err := newPassword()
		if err != nil {
			return nil, fmt.Errorf("generating %s: %w", c.Name, err)
		}
		data[k] = []byte(pw)
	}
	secret := resources.CredentialSecret(s.ws, c.Name, data)
	switch err := r.Client.Create(ctx, secret); {
	case err == nil:
		s.changes.created = append(s.changes.created, "Secret "+c.Name)
		s.changes.passwords = append(s.changes.passwords, c.Name)
		return data, nil
	case !apierrors.IsAlreadyExists(err) || r.APIReader == nil:
		return nil, fmt.Errorf("creating secret %s: %w", c.Name, err)
	}
	if err := r.APIReader.Get(ctx, key, &sec); err != nil {
		return nil, fmt.Errorf("reading secret %s: %w", c.Name, err)
	}
	return credentialData(&sec, c)
}

// credentialData returns the data of an existing credential Secret, which must hold every
// key of c: a Secret is never rewritten, so a missing password is the user's to restore.
func credentialData(sec *corev1.Secret, c resources.Credential) (map[string][]byte, error) {
	for _, k := range c.Keys {
		if len(sec.Data[k]) == 0 {
			return nil, fmt.Errorf("secret %s has no key %q: restore it from a backup, or or delete the Secret: new passwords are generated and the servers restart to accept them", c.Name, k)
		}
	}
	return sec.Data, nil
}
