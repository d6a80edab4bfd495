package agent

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseVCLList(t *testing.T) {
	tests := map[string]struct {
		body string
		want []VCL
	}{
		"varnish 7.1": {
			body: "available   auto    warm         1    webstack_46e98597d9b78079\nactive      auto    warm         0    boot\n",
			want: []VCL{{Name: "webstack_46e98597d9b78079", State: "available"}, {Name: "boot", State: "active"}},
		},
		"combined temperature column": {
			body: "active   auto/warm          0 w1\ndiscarded   auto/busy   2 w0\n",
			want: []VCL{{Name: "w1", State: "active"}, {Name: "w0", State: "discarded"}},
		},
		"label": {
			body: "active   auto    warm   0   lbl -> w1\n",
			want: []VCL{{Name: "lbl", State: "active"}},
		},
		"empty": {body: "", want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, parseVCLList(tc.body)); diff != "" {
				t.Errorf("parseVCLList (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseShowProc(t *testing.T) {
	tests := map[string]struct {
		out     string
		want    Proc
		wantErr bool
	}{
		"after a good reload": {
			out: "#<PID>          <type>          <reloads>       <uptime>        <version>\n" +
				"1117            master          3 [failed: 0]   0d00h10m43s     2.6.12\n# workers\n" +
				"10006           worker          0               0d00h00m01s     2.6.12\n" +
				"1120            worker          1               0d00h10m43s     2.6.12\n# programs\n\n",
			want: Proc{Reloads: 3, Failed: 0, Workers: []int{10006}, All: []int{10006, 1120}},
		},
		"after a refused reload": {
			out: "1117            master          2 [failed: 2]   0d00h10m37s     2.6.12\n# workers\n" +
				"1120            worker          2               0d00h10m37s     2.6.12\n",
			want: Proc{Reloads: 2, Failed: 2, All: []int{1120}},
		},
		"no master": {out: "Unknown command\n", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseShowProc(tc.out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %t", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
				t.Errorf("parseShowProc (-want +got):\n%s", diff)
			}
		})
	}
}
