package resource

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/yamlfile"
)

// TestDoc: every field of every kind is in docs/resources.md, and the
// document's example loads.
func TestDoc(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "resources.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{endpointDoc{}, deploymentDoc{}, monitorDoc{}} {
		if missing := yamlfile.Undocumented(string(raw), yamlfile.Fields(reflect.TypeOf(v))); len(missing) > 0 {
			t.Errorf("docs/resources.md does not document %s", strings.Join(missing, ", "))
		}
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(raw)
	if m == nil {
		t.Fatal("docs/resources.md has no example")
	}
	path := filepath.Join(t.TempDir(), "churn.yaml")
	if err := os.WriteFile(path, m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := Load(path)
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	if len(set.Deploy.Endpoints) != 1 || len(set.Deploy.Deployments) != 2 {
		t.Errorf("example loads as %+v", set.Deploy)
	}
	// The Monitor section's example loads too.
	var monitorExample []byte
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(raw, -1) {
		if strings.Contains(string(m[1]), "kind: Monitor") {
			monitorExample = m[1]
		}
	}
	path = filepath.Join(t.TempDir(), "monitor.yaml")
	if err := os.WriteFile(path, monitorExample, 0o644); err != nil {
		t.Fatal(err)
	}
	if set, err = Load(path); err != nil || len(set.Monitors) != 1 {
		t.Errorf("the Monitor example loads as %+v, %v; want one monitor", set.Monitors, err)
	}
}
