package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
)

// openAPIDocument renders the OpenAPI 3.0.3 document of the native API from
// its route table: paths and operations from the routes, and
// components/schemas by reflection over the Go types the handlers decode and
// encode. The output is deterministic (maps are written with sorted keys).
func openAPIDocument(routes []v1Route) ([]byte, error) {
	g := schemaGen{schemas: map[string]any{}, types: map[string]reflect.Type{}}
	paths := map[string]map[string]any{}
	var tags []any
	seenTag := map[string]bool{}
	for _, rt := range routes {
		op, err := g.operation(rt)
		if err != nil {
			return nil, fmt.Errorf("openapi: %s %s: %w", rt.method, rt.path, err)
		}
		p := v1Prefix + openAPIPath(rt.path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		m := strings.ToLower(rt.method)
		if _, dup := paths[p][m]; dup {
			return nil, fmt.Errorf("openapi: %s %s: listed twice", rt.method, rt.path)
		}
		paths[p][m] = op
		if t := openAPITag(rt.path); !seenTag[t] {
			seenTag[t] = true
			tags = append(tags, map[string]any{"name": t, "description": openAPITagDoc(t)})
		}
	}
	g.schemas["Error"] = openAPIErrorSchema()
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "Ferry API",
			"version": "1",
			"description": "Ferry's native REST API: experiments, runs and their artifacts, and the model registry. " +
				"Request and response bodies are JSON in the field shapes of MLflow's tracking API " +
				"(snake_case names, IDs as strings, times in milliseconds since the Unix epoch). " +
				"Every error is answered as {\"error\": {\"code\": ..., \"message\": ...}}.",
		},
		"tags":  tags,
		"paths": paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"responses": map[string]any{
				"Error": map[string]any{
					"description": "An error: 4xx for a request the client can fix, 5xx for a fault of the server.",
					"content":     openAPIJSONContent(schemaRef("Error")),
				},
			},
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return buf.Bytes(), nil
}

// operation renders one route as an OpenAPI operation object.
func (g *schemaGen) operation(rt v1Route) (map[string]any, error) {
	op := map[string]any{
		"operationId": rt.op,
		"summary":     rt.summary,
		"tags":        []string{openAPITag(rt.path)},
	}
	params := []any{}
	for _, name := range routeParams(rt.path) {
		doc, err := routeParamDoc(rt.path, name)
		if err != nil {
			return nil, err
		}
		params = append(params, map[string]any{
			"name": name, "in": "path", "required": true, "description": doc, "schema": map[string]any{"type": "string"},
		})
	}
	if rt.query != nil {
		fields, err := jsonFields(rt.query)
		if err != nil {
			return nil, err
		}
		for _, f := range fields {
			s, err := g.schema(f.typ)
			if err != nil {
				return nil, fmt.Errorf("query parameter %s: %w", f.name, err)
			}
			p := map[string]any{"name": f.name, "in": "query", "required": f.required, "schema": s}
			if f.doc != "" {
				p["description"] = f.doc
			}
			params = append(params, p)
		}
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if rt.request != nil {
		body, err := g.requestBody(rt.request)
		if err != nil {
			return nil, fmt.Errorf("request body: %w", err)
		}
		if rt.csv != "" {
			body["content"].(map[string]any)["text/csv"] = map[string]any{"schema": map[string]any{"type": "string", "description": rt.csv}}
		}
		op["requestBody"] = body
	}
	if rt.response == nil {
		return nil, fmt.Errorf("no response type")
	}
	ok := map[string]any{"description": http.StatusText(rt.status)}
	if rt.response == v1BinaryType {
		ok["description"] = "The artifact's bytes, with a Content-Type chosen by its file extension."
		ok["content"] = map[string]any{"application/octet-stream": map[string]any{"schema": openAPIBinarySchema()}}
	} else {
		s, err := g.schema(rt.response)
		if err != nil {
			return nil, fmt.Errorf("response: %w", err)
		}
		ok["content"] = openAPIJSONContent(s)
	}
	errResp := map[string]any{"$ref": "#/components/responses/Error"}
	op["responses"] = map[string]any{strconv.Itoa(rt.status): ok, "4XX": errResp, "5XX": errResp}
	return op, nil
}

func (g *schemaGen) requestBody(t reflect.Type) (map[string]any, error) {
	if t == v1BinaryType {
		return map[string]any{
			"required": true,
			"content":  map[string]any{"application/octet-stream": map[string]any{"schema": openAPIBinarySchema()}},
		}, nil
	}
	s, err := g.schema(t)
	if err != nil {
		return nil, err
	}
	// A body with no required field may be left out: it decodes as {}.
	required := false
	if fields, err := jsonFields(t); err == nil {
		for _, f := range fields {
			required = required || f.required
		}
	}
	return map[string]any{"required": required, "content": openAPIJSONContent(s)}, nil
}

// schemaGen collects the named schemas of components/schemas.
type schemaGen struct {
	schemas map[string]any
	types   map[string]reflect.Type // the Go type behind each name, to catch clashes
}

var flexFloatType = reflect.TypeFor[flexFloat]()

// schema returns the schema of t: a $ref for named struct types, which it
// adds to components/schemas, and an inline schema otherwise.
func (g *schemaGen) schema(t reflect.Type) (map[string]any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == flexFloatType:
		return map[string]any{
			"description": "A number; NaN and the infinities are written as the strings \"NaN\", \"Infinity\" and \"-Infinity\".",
			"oneOf": []any{
				map[string]any{"type": "number", "format": "double"},
				map[string]any{"type": "string", "enum": []string{"NaN", "Infinity", "-Infinity"}},
			},
		}, nil
	case t == v1BinaryType:
		return openAPIBinarySchema(), nil
	case t == reflect.TypeFor[json.RawMessage]():
		return map[string]any{"description": "Any JSON value."}, nil
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return map[string]any{"type": "integer", "format": "int32"}, nil
	case reflect.Int, reflect.Int64, reflect.Uint32, reflect.Uint, reflect.Uint64:
		return map[string]any{"type": "integer", "format": "int64"}, nil
	case reflect.Float32:
		return map[string]any{"type": "number", "format": "float"}, nil
	case reflect.Float64:
		return map[string]any{"type": "number", "format": "double"}, nil
	case reflect.Slice, reflect.Array:
		items, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("type %s: map keys must be strings", t)
		}
		if t.Elem().Kind() == reflect.Interface {
			return map[string]any{"type": "object", "additionalProperties": true}, nil
		}
		v, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "object", "additionalProperties": v}, nil
	case reflect.Interface:
		return map[string]any{}, nil
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		name := openAPISchemaName(t)
		if prev, ok := g.types[name]; ok {
			if prev != t {
				return nil, fmt.Errorf("types %s and %s both have the schema name %q", prev, t, name)
			}
			return schemaRef(name), nil
		}
		g.types[name] = t // before recursing, so that recursive types end
		obj, err := g.object(t)
		if err != nil {
			return nil, err
		}
		if doc := openAPISchemaDoc(name); doc != "" {
			obj["description"] = doc
		}
		g.schemas[name] = obj
		return schemaRef(name), nil
	}
	return nil, fmt.Errorf("type %s: kind %s has no JSON schema", t, t.Kind())
}

// object renders a struct as an object schema: one property per JSON field,
// required unless tagged omitempty.
func (g *schemaGen) object(t reflect.Type) (map[string]any, error) {
	fields, err := jsonFields(t)
	if err != nil {
		return nil, err
	}
	obj := map[string]any{"type": "object"}
	props := map[string]any{}
	var required []string
	for _, f := range fields {
		s, err := g.schema(f.typ)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.name, err)
		}
		if f.doc != "" {
			if _, isRef := s["$ref"]; isRef {
				s = map[string]any{"allOf": []any{s}} // $ref siblings are ignored in 3.0
			}
			s["description"] = f.doc
		}
		props[f.name] = s
		if f.required {
			required = append(required, f.name)
		}
	}
	if len(props) > 0 {
		obj["properties"] = props
	}
	if len(required) > 0 {
		obj["required"] = required
	}
	return obj, nil
}

// jsonField is one field of a struct as encoding/json sees it.
type jsonField struct {
	name     string
	typ      reflect.Type
	required bool // no omitempty
	doc      string
}

// jsonFields lists t's JSON fields in order, flattening embedded structs as
// encoding/json does. Fields tagged "-" and unexported fields are left out.
func jsonFields(t reflect.Type) ([]jsonField, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("type %s is not a struct", t)
	}
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				inner, err := jsonFields(ft)
				if err != nil {
					return nil, err
				}
				out = append(out, inner...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := false
		for o := range strings.SplitSeq(opts, ",") {
			omit = omit || o == "omitempty" || o == "omitzero"
		}
		out = append(out, jsonField{name: name, typ: f.Type, required: !omit, doc: f.Tag.Get("doc")})
	}
	return out, nil
}

// openAPISchemaName names a Go type in components/schemas: without the "wire" or
// "v1" prefix, capitalised.
func openAPISchemaName(t reflect.Type) string {
	name := t.Name()
	for _, p := range []string{"wire", "v1"} {
		if rest, ok := strings.CutPrefix(name, p); ok && rest != "" {
			name = rest
			break
		}
	}
	r, n := utf8.DecodeRuneInString(name)
	return string(unicode.ToUpper(r)) + name[n:]
}

// openAPISchemaDoc describes the shared wire types, whose fields carry no doc tags.
func openAPISchemaDoc(name string) string {
	switch name {
	case "Experiment":
		return "An experiment, a group of runs. Times are milliseconds since the Unix epoch; lifecycle_stage is active or deleted."
	case "Run":
		return "A run with its latest metric values, params, tags and dataset inputs."
	case "RunInfo":
		return "A run's metadata. run_uuid repeats run_id for MLflow's older clients; end_time is absent while the run has not ended."
	case "Metric":
		return "One point of a metric's series; timestamp is in milliseconds since the Unix epoch."
	case "Tag":
		return "A key/value pair: a tag, or a run's param."
	case "FileInfo":
		return "An artifact file or directory; file_size is absent for directories."
	case "Empty":
		return "An empty object."
	}
	return ""
}

// openAPIErrorSchema is the body of every error response.
func openAPIErrorSchema() map[string]any {
	codes := []string{ferry.EINVALID, ferry.ENOTFOUND, ferry.ECONFLICT, ferry.ETOOLARGE, ferry.EUNAUTHORIZED, ferry.EFORBIDDEN, ferry.ENOTIMPLEMENTED, ferry.EUNAVAILABLE, ferry.EINTERNAL}
	return map[string]any{
		"type":     "object",
		"required": []string{"error"},
		"properties": map[string]any{
			"error": map[string]any{
				"type":     "object",
				"required": []string{"code", "message"},
				"properties": map[string]any{
					"code": map[string]any{
						"type":        "string",
						"description": "What kind of error it is, one of " + strings.Join(codes, ", ") + "; more may be added.",
					},
					"message": map[string]any{"type": "string", "description": "What happened and what to do about it."},
				},
			},
		},
	}
}

// openAPIPath turns a ServeMux path into an OpenAPI path: {x...} becomes {x}.
func openAPIPath(p string) string {
	return strings.ReplaceAll(p, "...}", "}")
}

// routeParams lists the wildcard names of a ServeMux path in order.
func routeParams(p string) []string {
	var names []string
	for seg := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			names = append(names, strings.TrimSuffix(seg[1:len(seg)-1], "..."))
		}
	}
	return names
}

func routeParamDoc(routePath, name string) (string, error) {
	switch name {
	case "id":
		if strings.HasPrefix(routePath, "/uploads/") {
			return "The upload's id, as createUpload gave it.", nil
		}
		if strings.HasPrefix(routePath, "/experiments/") {
			return "The experiment's ID.", nil
		}
		return "The run's ID, or a unique prefix of it of at least 8 characters (an ambiguous one is EINVALID naming the matches).", nil
	case "name":
		if strings.HasPrefix(routePath, "/endpoints/") {
			return "The endpoint's name.", nil
		}
		if strings.HasPrefix(routePath, "/models/") {
			return "The registered model's name, URL-escaped.", nil
		}
		if strings.HasPrefix(routePath, "/data/") {
			return "The data asset's name.", nil
		}
		return "The experiment's name, URL-escaped.", nil
	case "version":
		if strings.HasPrefix(routePath, "/data/") {
			return "The data asset version's number, or latest.", nil
		}
		return "The model version's number.", nil
	case "deployment":
		return "The deployment's name, unique within its endpoint.", nil
	case "n":
		return "The part's number, from 1.", nil
	case "alias":
		return "The alias, such as champion.", nil
	case "key":
		if strings.Contains(routePath, "/metrics/") {
			return "The metric's key. It may contain '/', escaped or not.", nil
		}
		return "The tag's key. It may contain '/', escaped or not.", nil
	case "path":
		return "The artifact's path relative to the run's artifact root, such as model/MLmodel.", nil
	}
	return "", fmt.Errorf("path parameter {%s} has no description", name)
}

// openAPITag groups operations in the document.
func openAPITag(p string) string {
	switch {
	case strings.Contains(p, "/artifacts"):
		return "artifacts"
	case strings.HasPrefix(p, "/experiments"):
		return "experiments"
	case strings.HasPrefix(p, "/runs"):
		return "runs"
	case strings.HasSuffix(p, "/package"):
		return "models"
	case strings.HasPrefix(p, "/data"), strings.HasPrefix(p, "/uploads"):
		return "data"
	case strings.HasPrefix(p, "/models"), p == "/resolve", p == "/lineage":
		return "models"
	case strings.HasSuffix(p, "/labels"):
		return "monitor"
	case strings.HasPrefix(p, "/endpoints"), strings.HasPrefix(p, "/deployments"):
		return "deploy"
	}
	return "meta"
}

func openAPITagDoc(tag string) string {
	switch tag {
	case "experiments":
		return "Experiments group runs."
	case "runs":
		return "Runs, with their metrics, params, tags and dataset inputs."
	case "artifacts":
		return "Files a run produced, stored by this server."
	case "data":
		return "Data assets: immutable, content-addressed versions of data files, uploaded in parts that can each be retried."
	case "deploy":
		return "Endpoints and their deployments, in Azure ML CLI v2's vocabulary, and the plan and apply of resource files. Writes act for the principal in the X-Ferry-Principal header (default anonymous) and are audited."
	case "monitor":
		return "Monitoring of endpoints: the ground truth of their requests, arriving late and joined by request id. Writes act for the principal in the X-Ferry-Principal header (default anonymous), recorded with each label."
	case "models":
		return "The model registry: registered models, immutable versions, aliases, stages, promotions under the policy, the audit trail and lineage. Writes act for the principal in the X-Ferry-Principal header (default anonymous)."
	}
	return "About this API."
}

func schemaRef(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func openAPIJSONContent(schema map[string]any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

func openAPIBinarySchema() map[string]any {
	return map[string]any{"type": "string", "format": "binary"}
}
