package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// crdSchema is the part of OpenAPI v3 that the recorded excerpt of KServe's
// CRD schema uses (testdata/kserve/README.md). It is decoded strictly: a
// keyword this validator does not know fails the test instead of being
// ignored.
type crdSchema struct {
	Type                 string                `json:"type"`
	Format               string                `json:"format"`
	Properties           map[string]*crdSchema `json:"properties"`
	Required             []string              `json:"required"`
	Items                *crdSchema            `json:"items"`
	AdditionalProperties *crdSchema            `json:"additionalProperties"`
	AnyOf                []*crdSchema          `json:"anyOf"`
	Enum                 []any                 `json:"enum"`
	Pattern              string                `json:"pattern"`
	IntOrString          bool                  `json:"x-kubernetes-int-or-string"`
	// Pruned marks a subtree the excerpt did not record: a manifest using
	// it cannot be checked, which is an error.
	Pruned bool `json:"x-ferry-pruned"`
	// Merge and defaulting hints for the API server; nothing to validate.
	Default     any      `json:"default"`
	ListType    string   `json:"x-kubernetes-list-type"`
	ListMapKeys []string `json:"x-kubernetes-list-map-keys"`
	MapType     string   `json:"x-kubernetes-map-type"`
}

func loadCRDSchema(t *testing.T, path string) *crdSchema {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s crdSchema
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &s
}

// validate checks doc (YAML) against s as a structural schema with pruning
// disabled: every field must be declared, every required field present,
// every value of the declared type, pattern and enum. It returns every
// problem, by JSON path.
func (s *crdSchema) validate(doc []byte) ([]string, error) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var errs []string
	s.check("", v, &errs)
	return errs, nil
}

func (s *crdSchema) check(path string, v any, errs *[]string) {
	fail := func(format string, args ...any) {
		*errs = append(*errs, fmt.Sprintf("%s: %s", cmpOr(path, "."), fmt.Sprintf(format, args...)))
	}
	if s.Pruned {
		fail("the recorded excerpt pruned this field's schema; keep it in excerpt.py to check it")
		return
	}
	if len(s.AnyOf) > 0 {
		var any1 bool
		for _, alt := range s.AnyOf {
			var sub []string
			alt.check(path, v, &sub)
			any1 = any1 || len(sub) == 0
		}
		if !any1 {
			fail("matches none of anyOf")
		}
	}
	if s.IntOrString {
		switch x := v.(type) {
		case string:
			if s.Pattern != "" && !regexp.MustCompile(s.Pattern).MatchString(x) {
				fail("%q does not match %s", x, s.Pattern)
			}
		case json.Number:
			if _, err := x.Int64(); err != nil {
				fail("%v is not an integer", x)
			}
		default:
			fail("want an integer or a string, got %T", v)
		}
		return
	}
	if len(s.Enum) > 0 && !contains(s.Enum, v) {
		fail("%v is not one of %v", v, s.Enum)
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			fail("want an object, got %T", v)
			return
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				fail("required field %s missing", r)
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := s.Properties[k]
			if sub == nil {
				sub = s.AdditionalProperties
			}
			if sub == nil {
				if s.Properties == nil { // an object the schema leaves open (metadata)
					continue
				}
				fail("unknown field %q", k)
				continue
			}
			sub.check(path+"."+k, m[k], errs)
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			fail("want an array, got %T", v)
			return
		}
		for i, x := range a {
			s.Items.check(fmt.Sprintf("%s[%d]", path, i), x, errs)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			fail("want a string, got %T", v)
			return
		}
		if s.Pattern != "" && !regexp.MustCompile(s.Pattern).MatchString(str) {
			fail("%q does not match %s", str, s.Pattern)
		}
	case "integer":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			fail("want an integer, got %v", v)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			fail("want a number, got %T", v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("want a boolean, got %T", v)
		}
	case "":
	default:
		fail("validator does not know type %q", s.Type)
	}
}

func contains(enum []any, v any) bool {
	for _, e := range enum {
		if fmt.Sprint(e) == fmt.Sprint(v) {
			return true
		}
	}
	return false
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestCRDValidatorRejects(t *testing.T) {
	s := loadCRDSchema(t, "testdata/kserve/inferenceservice-v1beta1.schema.yaml")
	const base = `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: churn}
spec:
  predictor:
    containers:
    - name: kserve-container
      image: example.com/churn:3
`
	tests := []struct {
		name, doc, want string
	}{
		{"valid", base, ""},
		{"unknown field", base + "      imagePolicy: Always\n", `unknown field "imagePolicy"`},
		{"wrong type", strings.Replace(base, "predictor:", "predictor:\n    minReplicas: two", 1), "want an integer"},
		{"pruned field", strings.Replace(base, "predictor:", "predictor:\n    nodeName: n1", 1), "pruned"},
		{"missing required", strings.Replace(base, "      image: example.com/churn:3\n", "", 1) + "    - image: x\n", "required field name missing"},
		{"bad quantity", base + "      resources: {requests: {cpu: lots}}\n", `"lots" does not match`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs, err := s.validate([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(errs, "\n")
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Fatalf("errors %q; want %q", got, tt.want)
			}
		})
	}
}
