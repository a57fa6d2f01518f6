package httpapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestOpenAPIGolden compares the served document with testdata/openapi.json;
// run `go test ./internal/httpapi -run OpenAPI -update` to accept a change.
func TestOpenAPIGolden(t *testing.T) {
	s := newV1TestServer(t, 0)
	r := v1Call(t, s, "GET", "/api/v1/openapi.json", "")
	v1Want(t, r, http.StatusOK, "")
	golden := filepath.Join("testdata", "openapi.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, r.body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantBody, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(r.body, wantBody) {
		t.Errorf("GET /api/v1/openapi.json differs from %s; if the change is intended, run go test ./internal/httpapi -run OpenAPI -update\n%s", golden, goldenDiff(string(wantBody), string(r.body)))
	}
	// The document is the same on every call.
	if again := v1Call(t, s, "GET", "/api/v1/openapi.json", ""); !bytes.Equal(again.body, r.body) {
		t.Error("a second GET /api/v1/openapi.json answered a different document")
	}
}

// goldenDiff shows the first line where got departs from want.
func goldenDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + v1Itoa(i+1) + ":\n  want " + wl + "\n  got  " + gl
		}
	}
	return ""
}

func v1Itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestOpenAPIDocument checks the document's structure: every route is an
// operation with its success status, every $ref resolves, and operation IDs
// are unique.
func TestOpenAPIDocument(t *testing.T) {
	s := newV1TestServer(t, 0)
	routes := s.v1Routes()
	raw, err := openAPIDocument(routes)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas   map[string]any `json:"schemas"`
			Responses map[string]any `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	ops := 0
	for _, p := range doc.Paths {
		ops += len(p)
	}
	if ops != len(routes) {
		t.Errorf("the document has %d operations, the route table %d routes", ops, len(routes))
	}
	ids := map[string]bool{}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			op, ok := doc.Paths[v1Prefix+openAPIPath(rt.path)][strings.ToLower(rt.method)]
			if !ok {
				t.Fatal("not in the document")
			}
			if ids[rt.op] {
				t.Errorf("operationId %q is used twice", rt.op)
			}
			ids[rt.op] = true
			resp, _ := op["responses"].(map[string]any)
			for _, code := range []string{v1Itoa(rt.status), "4XX", "5XX"} {
				if _, ok := resp[code]; !ok {
					t.Errorf("no %s v1Resp", code)
				}
			}
			var params []string
			for _, p := range v1Slice(op["parameters"]) {
				if m, _ := p.(map[string]any); m["in"] == "path" {
					params = append(params, m["name"].(string))
				}
			}
			if got, want := strings.Join(params, ","), strings.Join(routeParams(rt.path), ","); got != want {
				t.Errorf("path parameters = %s, want %s", got, want)
			}
		})
	}
	var refs []string
	openAPIRefs(any(v1JSONAny(t, raw)), &refs)
	sort.Strings(refs)
	for _, ref := range refs {
		name, ok := strings.CutPrefix(ref, "#/components/schemas/")
		if ok {
			if _, found := doc.Components.Schemas[name]; !found {
				t.Errorf("$ref %s does not resolve", ref)
			}
			continue
		}
		name, ok = strings.CutPrefix(ref, "#/components/responses/")
		if _, found := doc.Components.Responses[name]; !ok || !found {
			t.Errorf("$ref %s does not resolve", ref)
		}
	}
}

func v1Slice(v any) []any { s, _ := v.([]any); return s }

func v1JSONAny(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func openAPIRefs(v any, refs *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "$ref" {
				*refs = append(*refs, s)
			}
			openAPIRefs(e, refs)
		}
	case []any:
		for _, e := range v {
			openAPIRefs(e, refs)
		}
	}
}

// TestOpenAPIRoutesServed walks the route table — and so the document — and
// checks that the mux serves each route at its method and path, with no
// route falling through to the catch-all "No route" answer.
func TestOpenAPIRoutesServed(t *testing.T) {
	s := newV1TestServer(t, 0)
	for _, rt := range s.v1Routes() {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			target := v1Prefix + v1SampleParams(rt.path)
			req := httptest.NewRequestWithContext(t.Context(), rt.method, target, strings.NewReader("{}"))
			if _, pattern := s.mux.Handler(req); pattern != rt.method+" "+v1Prefix+rt.path {
				t.Errorf("%s %s is served by pattern %q", rt.method, target, pattern)
			}
			r := v1Call(t, s, rt.method, target, "{}")
			if r.status == http.StatusNotFound && bytes.Contains(r.body, []byte("No route")) {
				t.Errorf("%s %s answered the catch-all: %s", rt.method, target, r.body)
			}
			if r.status >= 500 {
				t.Errorf("%s %s answered %d: %s", rt.method, target, r.status, r.body)
			}
		})
	}
}

// v1SampleParams fills a route path's wildcards with sample values.
func v1SampleParams(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if strings.HasPrefix(seg, "{") {
			segs[i] = "sample"
		}
	}
	return strings.Join(segs, "/")
}
