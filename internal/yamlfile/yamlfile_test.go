package yamlfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type limits struct {
	Timeout string `yaml:"timeout"`
}

type base struct {
	Name string `yaml:"name"`
}

type custom struct{ keys []string }

func (c *custom) UnmarshalYAML(n *yaml.Node) error {
	for i := 0; i < len(n.Content); i += 2 {
		c.keys = append(c.keys, n.Content[i].Value)
	}
	return nil
}

type doc struct {
	base    `yaml:",inline"`
	Target  string            `yaml:"target"`
	Params  map[string]any    `yaml:"params"`
	Limits  *limits           `yaml:"limits"`
	Steps   []limits          `yaml:"steps"`
	ByName  map[string]limits `yaml:"by_name"`
	Custom  custom            `yaml:"custom"`
	Raw     yaml.Node         `yaml:"raw"`
	Ignored string            `yaml:"-"`
	Plain   int
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // substring of the error; "" for none
	}{
		{"valid", "name: a\ntarget: y\nparams: {anything: 1}\nlimits: {timeout: 1m}\nsteps: [{timeout: 2m}]\nby_name: {x: {timeout: 3m}}\ncustom: {free: 1}\nraw: {free: 2}\nplain: 3\n", ""},
		{"empty", "", ""},
		{"top level typo", "name: a\ntagret: y\n", `spec.yaml: line 2: unknown field "tagret"; did you mean "target"?`},
		{"nested typo", "limits:\n  timout: 1m\n", `line 2: unknown field "timout" in limits; did you mean "timeout"?`},
		{"in a list", "steps:\n  - timeout: 1m\n  - timeot: 2m\n", `line 3: unknown field "timeot" in steps[1]; did you mean "timeout"?`},
		{"in a map", "by_name:\n  x:\n    timeouts: 1m\n", `line 3: unknown field "timeouts" in by_name.x; did you mean "timeout"?`},
		{"nothing close lists the valid fields", "zzzzzzzz: 1\n", `unknown field "zzzzzzzz"; valid fields are name, target, params, limits, steps, by_name, custom, raw, plain`},
		{"ignored field is unknown", "ignored: x\n", `unknown field "ignored"`},
		{"every unknown field", "tagret: y\nnmae: a\n", `line 1: unknown field "tagret"; did you mean "target"?; line 2: unknown field "nmae"; did you mean "name"?`},
		{"two documents", "name: a\n---\nname: b\n", "want one YAML document"},
		{"syntax", "name: [\n", "spec.yaml: "},
		{"wrong type", "plain: x\n", "spec.yaml: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			err := Decode([]byte(tt.yaml), "spec.yaml", &d)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDecodeFillsValue(t *testing.T) {
	var d doc
	if err := Decode([]byte("name: a\ntarget: y\nlimits: {timeout: 1m}\ncustom: {k: 1}\n"), "x", &d); err != nil {
		t.Fatal(err)
	}
	if d.Name != "a" || d.Target != "y" || d.Limits.Timeout != "1m" || len(d.Custom.keys) != 1 {
		t.Fatalf("decoded %+v", d)
	}
	var ue *UnknownFieldsError
	if err := Decode([]byte("tagret: y\n"), "x", &d); !errors.As(err, &ue) || ue.Fields[0].Closest != "target" || ue.Fields[0].Line != 1 {
		t.Fatalf("error %#v", err)
	}
}

func TestFields(t *testing.T) {
	got := strings.Join(Fields(reflect.TypeFor[doc]()), " ")
	want := "name target params limits limits.timeout steps steps.timeout by_name by_name.<key>.timeout custom raw plain"
	if got != want {
		t.Fatalf("Fields = %s\nwant     %s", got, want)
	}
}

func TestUndocumented(t *testing.T) {
	doc := "| `name` | x |\n| `by_name.<model>.timeout` | y |\n`limits.timeout`"
	got := Undocumented(doc, []string{"name", "limits", "limits.timeout", "by_name.<key>.timeout"})
	if strings.Join(got, ",") != "limits" {
		t.Fatalf("Undocumented = %v, want [limits]", got)
	}
}
