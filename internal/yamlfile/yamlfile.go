// Package yamlfile decodes the YAML files users write (training specs,
// policies, gates files, job specs, the config file) strictly: a field the
// target type does not have is an error naming the file, the line, the field
// and the closest valid field, so a typo is caught before any work starts.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-ml/ferry/internal/suggest"
)

// UnknownField is a mapping key in a document that the target type does not
// have.
type UnknownField struct {
	Line  int      // 1-based line of the key
	Path  string   // dotted path of the mapping it is in, "" at the top
	Field string   // the key as written
	Valid []string // the fields valid at that place, in declaration order
	// Closest is the valid field nearest to Field, or "" when none is close.
	Closest string
}

// String renders the problem without the file name: `line 3: unknown field
// "tagret"; did you mean "target"?`, or `line 5: unknown field "timout" in
// limits; did you mean "timeout"?`. Without a close match it lists the valid
// fields.
func (u UnknownField) String() string {
	msg := fmt.Sprintf("line %d: unknown field %q", u.Line, u.Field)
	if u.Path != "" {
		msg += " in " + u.Path
	}
	switch {
	case u.Closest != "":
		msg += fmt.Sprintf("; did you mean %q?", u.Closest)
	case len(u.Valid) > 0:
		msg += "; valid fields are " + strings.Join(u.Valid, ", ")
	}
	return msg
}

// UnknownFieldsError lists every unknown field of a file.
type UnknownFieldsError struct {
	File   string // the name given to Decode
	Fields []UnknownField
}

// Error names the file and each field: `spec.yaml: line 3: unknown field
// "tagret"; did you mean "target"?`.
func (e *UnknownFieldsError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.String()
	}
	return e.File + ": " + strings.Join(parts, "; ")
}

// Decode decodes the one YAML document in data into v, a non-nil pointer.
// name is the file's name for messages. An empty document leaves v as it is.
// Unknown fields are an *UnknownFieldsError listing all of them; more than one
// document is an error; other problems (syntax, wrong types, and errors of
// v's own UnmarshalYAML methods) are returned as the YAML decoder reports
// them, prefixed by name.
func Decode(data []byte, name string, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: want one YAML document, found more", name)
	}
	if unknown := UnknownFields(&doc, reflect.TypeOf(v)); len(unknown) > 0 {
		return &UnknownFieldsError{File: name, Fields: unknown}
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	nodeType        = reflect.TypeFor[yaml.Node]()
)

// UnknownFields walks the document n against type t (as yaml.v3 would decode
// into it) and returns the mapping keys t has no field for, in document
// order. It does not look inside values whose type has its own UnmarshalYAML,
// is a yaml.Node, or is an interface; those check themselves.
func UnknownFields(n *yaml.Node, t reflect.Type) []UnknownField {
	var out []UnknownField
	walk(n, t, "", &out)
	return out
}

func walk(n *yaml.Node, t reflect.Type, path string, out *[]UnknownField) {
	if n == nil || t == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walk(c, t, path, out)
		}
		return
	case yaml.AliasNode:
		walk(n.Alias, t, path, out)
		return
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields, names, open := structFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				walk(v, t, path, out)
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				if !open {
					*out = append(*out, UnknownField{Line: k.Line, Path: path, Field: k.Value, Valid: names, Closest: suggest.Closest(k.Value, names)})
				}
				continue
			}
			walk(v, ft, join(path, k.Value), out)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walk(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), out)
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// structFields returns the YAML keys of struct t with their types, the keys
// in declaration order, and whether an inline map makes any key valid.
func structFields(t reflect.Type) (map[string]reflect.Type, []string, bool) {
	fields := map[string]reflect.Type{}
	var names []string
	open := false
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			tag := f.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			if strings.Contains(","+opts+",", ",inline,") {
				ft := f.Type
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Map {
					open = true
				} else if ft.Kind() == reflect.Struct {
					add(ft)
				}
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if _, dup := fields[name]; !dup {
				names = append(names, name)
			}
			fields[name] = f.Type
		}
	}
	add(t)
	return fields, names, open
}

// Fields lists the YAML paths of the fields of type t, in declaration order,
// as a file writes them: "split.cut". A map level is written "<key>"
// ("models.<key>.stages.<key>.approval"); a list adds no level. It lists
// but does not look inside a field whose type has its own UnmarshalYAML, is
// a yaml.Node or an interface. Documentation tests use it to check that
// every field is documented.
func Fields(t reflect.Type) []string {
	var out []string
	var walkType func(t reflect.Type, path string)
	walkType = func(t reflect.Type, path string) {
		for {
			if t == nodeType || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType) {
				return
			}
			if t.Kind() != reflect.Pointer && t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
				break
			}
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Map:
			walkType(t.Elem(), join(path, "<key>"))
		case reflect.Struct:
			fields, names, _ := structFields(t)
			for _, name := range names {
				p := join(path, name)
				out = append(out, p)
				walkType(fields[name], p)
			}
		}
	}
	walkType(t, "")
	return out
}

var (
	backticked  = regexp.MustCompile("`([^`\n]+)`")
	placeholder = regexp.MustCompile(`<[^>]+>`)
)

// Undocumented returns the paths of fields (as Fields gives them) that the
// Markdown doc does not mention in backticks; a placeholder such as
// `models.<model>.stages` in the doc stands for "<key>".
func Undocumented(doc string, fields []string) []string {
	seen := map[string]bool{}
	for _, m := range backticked.FindAllStringSubmatch(doc, -1) {
		seen[placeholder.ReplaceAllString(m[1], "<key>")] = true
	}
	var out []string
	for _, f := range fields {
		if !seen[f] {
			out = append(out, f)
		}
	}
	return out
}
