package model

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Bounds on free-form YAML values (flavor fields, metadata, unknown keys).
const (
	maxValueDepth = 64
	maxValueNodes = 100_000 // counts alias expansions, so anchors cannot multiply work
)

// valueDecoder turns YAML nodes into plain Go values: map[string]any, []any,
// string, bool, int64, float64 and nil. Timestamps and integers too large for
// int64 stay strings, so that nothing is lost or reinterpreted on a round trip.
type valueDecoder struct {
	nodes int
}

func (d *valueDecoder) decode(n *yaml.Node, where string, depth int) (any, error) {
	d.nodes++
	if d.nodes > maxValueNodes {
		return nil, invalidf("%s: line %d: too many YAML nodes (more than %d, counting aliases)", ManifestFile, n.Line, maxValueNodes)
	}
	if depth > maxValueDepth {
		return nil, invalidf("%s: line %d: %s is nested more than %d levels deep", ManifestFile, n.Line, where, maxValueDepth)
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, invalidf("%s: line %d: %s is an alias to nothing", ManifestFile, n.Line, where)
		}
		return d.decode(n.Alias, where, depth+1)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return d.decode(n.Content[0], where, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key, err := scalarKey(k, where)
			if err != nil {
				return nil, err
			}
			if key == "<<" {
				return nil, invalidf("%s: line %d: %s uses a YAML merge key (<<), which MLmodel files do not use", ManifestFile, k.Line, where)
			}
			if _, dup := m[key]; dup {
				return nil, invalidf("%s: line %d: %s has the key %q twice", ManifestFile, k.Line, where, key)
			}
			val, err := d.decode(v, where+"."+key, depth+1)
			if err != nil {
				return nil, err
			}
			m[key] = val
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, err := d.decode(c, fmt.Sprintf("%s[%d]", where, i), depth+1)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		return scalarValue(n)
	}
	return nil, invalidf("%s: line %d: %s is not a YAML value", ManifestFile, n.Line, where)
}

// scalarKey returns the text of a mapping key, which must be a scalar.
func scalarKey(k *yaml.Node, where string) (string, error) {
	if k.Kind != yaml.ScalarNode {
		return "", invalidf("%s: line %d: %s has a key that is not a plain string", ManifestFile, k.Line, where)
	}
	return k.Value, nil
}

// scalarValue resolves a scalar node to a Go value the way a YAML 1.2 reader
// does, except that timestamps and huge integers stay strings.
func scalarValue(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, invalidf("%s: line %d: %q is not a boolean", ManifestFile, n.Line, clip(n.Value))
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		return n.Value, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, invalidf("%s: line %d: %q is not a number", ManifestFile, n.Line, clip(n.Value))
		}
		return f, nil
	case "!!str", "!!timestamp", "!!binary", "":
		return n.Value, nil
	}
	// Application tags (!foo) have no meaning in an MLmodel; keep the text.
	return n.Value, nil
}

// scalarText returns a scalar field as text: strings as they are, numbers and
// booleans as YAML wrote them, null as "". Mappings and sequences are errors.
func scalarText(n *yaml.Node, field string) (string, error) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return "", invalidf("%s: line %d: %s must be a string, not a %s", ManifestFile, n.Line, field, kindName(n))
	}
	if n.ShortTag() == "!!null" {
		return "", nil
	}
	return n.Value, nil
}

// kindName names a node's kind for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!int", "!!float":
			return "number"
		case "!!bool":
			return "boolean"
		}
		return "string"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

// typeName names a decoded value's type for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any, Flavor:
		return "mapping"
	case []any:
		return "list"
	case bool:
		return "boolean"
	case int, int64, uint64, float64:
		return "number"
	case string:
		return "string"
	}
	return fmt.Sprintf("%T", v)
}

// valueNode turns a Go value into a YAML node with map keys sorted bytewise, as
// PyYAML's safe_dump sorts them, so that encoding is deterministic.
func valueNode(v any) (*yaml.Node, error) {
	switch x := v.(type) {
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	case string:
		return strNode(x), nil
	case Flavor:
		return mapNode(map[string]any(x))
	case map[string]any:
		return mapNode(x)
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return mapNode(m)
	case []any:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range x {
			c, err := valueNode(e)
			if err != nil {
				return nil, err
			}
			seq.Content = append(seq.Content, c)
		}
		return seq, nil
	case []string:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range x {
			seq.Content = append(seq.Content, strNode(e))
		}
		return seq, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			break // yaml's own spelling (.nan, .inf)
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			s += ".0" // keep it a float on the way back, as PyYAML writes 1.0
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}, nil
	}
	n := &yaml.Node{}
	if err := n.Encode(v); err != nil {
		return nil, fmt.Errorf("model: encode %T: %w", v, err)
	}
	return n, nil
}

// mapNode encodes a mapping with its keys sorted bytewise.
func mapNode(m map[string]any) (*yaml.Node, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, k := range keys {
		v, err := valueNode(m[k])
		if err != nil {
			return nil, err
		}
		n.Content = append(n.Content, strNode(k), v)
	}
	return n, nil
}

// strNode encodes a string, quoted when YAML would otherwise read it as
// another type.
func strNode(s string) *yaml.Node {
	n := &yaml.Node{}
	_ = n.Encode(s) // encoding a string cannot fail
	return n
}

// quotedNode encodes a one-line string in single quotes, as PyYAML writes
// signature JSON and timestamps; the emitter falls back to double quotes for
// strings single quotes cannot hold.
func quotedNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.SingleQuotedStyle, Value: s}
}

// clip bounds a user value quoted in an error message.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		r := []rune(s)
		if len(r) > max-3 {
			return string(r[:max-3]) + "..."
		}
	}
	return s
}
