package model

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-ml/ferry"
)

// TimeLayout is MLflow's spelling of utc_time_created: Python's str of a naive
// UTC datetime. Like Python, Marshal drops the fraction when it is zero.
const TimeLayout = "2006-01-02 15:04:05.000000"

// formatTime spells t as MLflow does, at microsecond precision.
func formatTime(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Nanosecond() == 0 {
		return t.Format(time.DateTime)
	}
	return t.Format(TimeLayout)
}

// Flavor is one entry of an MLmodel's flavors: field name to value. Values are
// what YAML holds: string, bool, int64, float64, nil, []any, map[string]any.
type Flavor map[string]any

// Manifest is the MLmodel file: MLflow's description of a model package. Fields
// MLflow adds across versions that Ferry does not interpret (model_size_bytes,
// is_signature_from_type_hint, prompts, model_id, ...) are kept in Extra and
// written back unchanged.
type Manifest struct {
	// ArtifactPath is the run-relative path the model was logged under.
	ArtifactPath string
	// Flavors maps a flavor name (xgboost, python_function, ferry, ...) to its fields.
	Flavors map[string]Flavor
	RunID   string
	// ModelUUID is MLflow's 32-hex-digit model id. Builder.Finish derives one
	// from the package's contents when it is empty.
	ModelUUID string
	// UTCTimeCreated is written in TimeLayout; Builder.Finish requires it, so
	// that callers fix it (from the run, say) and packaging stays reproducible.
	UTCTimeCreated time.Time
	// MLflowVersion is the MLflow version that wrote the file; "" for Ferry.
	MLflowVersion string
	// Signature is nil when the model has none.
	Signature *Signature
	// SavedInputExample is nil when the package has no input example.
	SavedInputExample *InputExampleInfo
	// Metadata is MLflow's free-form metadata; Ferry adds ferry_format_version.
	Metadata map[string]any
	// Extra holds top-level keys this package does not interpret, verbatim.
	Extra map[string]any
}

// InputExampleInfo is MLmodel's saved_input_example_info.
type InputExampleInfo struct {
	// ArtifactPath is the example's file in the package, e.g. input_example.json.
	ArtifactPath string
	// Type is "dataframe", "ndarray", "sparse_matrix_csc", "json_object", ...
	Type string
	// PandasOrient is "split" or "records" for dataframes.
	PandasOrient string
	// ServingInputPath is the scoring-request example MLflow 2.17+ writes.
	ServingInputPath string
	// Extra holds keys this package does not interpret, verbatim.
	Extra map[string]any
}

// isKnownKey reports the top-level MLmodel keys Manifest has fields for.
func isKnownKey(k string) bool {
	switch k {
	case "artifact_path", "flavors", "run_id", "model_uuid", "utc_time_created",
		"mlflow_version", "signature", "saved_input_example_info", "metadata":
		return true
	}
	return false
}

// ParseManifest reads an MLmodel file. It reads at most MaxManifestSize bytes
// and never panics. Errors wrap a *ferry.Error: ETOOLARGE for a larger input,
// EINVALID for malformed YAML, a field of the wrong type (flavors that are not
// a mapping, say), a bad signature JSON string or an unreadable timestamp —
// with the line and field named. A read error of r is returned wrapped.
func ParseManifest(r io.Reader) (*Manifest, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("model: read %s: %w", ManifestFile, err)
	}
	if len(data) > MaxManifestSize {
		return nil, errorf(ferry.ETOOLARGE, "%s is larger than %d bytes", ManifestFile, MaxManifestSize)
	}
	return parseManifest(data)
}

func parseManifest(data []byte) (m *Manifest, err error) {
	if !utf8.Valid(data) {
		return nil, invalidf("%s is not UTF-8 text", ManifestFile)
	}
	var doc yaml.Node
	if err := safeUnmarshal(data, &doc); err != nil {
		return nil, invalidf("%s is not valid YAML: %s", ManifestFile, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, invalidf("%s is empty", ManifestFile)
	}
	root := doc.Content[0]
	for root.Kind == yaml.AliasNode && root.Alias != nil {
		root = root.Alias
	}
	if root.Kind != yaml.MappingNode {
		return nil, invalidf("%s: line %d: the file must be a YAML mapping of fields, not a %s", ManifestFile, root.Line, kindName(root))
	}
	m = &Manifest{Flavors: map[string]Flavor{}}
	dec := &valueDecoder{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		kn, vn := root.Content[i], root.Content[i+1]
		key, err := scalarKey(kn, "the top level")
		if err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, invalidf("%s: line %d: the key %q appears twice", ManifestFile, kn.Line, clip(key))
		}
		seen[key] = true
		if err := m.setField(dec, key, vn); err != nil {
			return nil, err
		}
	}
	if err := m.checkPaths(); err != nil {
		return nil, err
	}
	return m, nil
}

// checkPaths rejects file names that leave the package: a flavor's data file
// or the input example (data: ../../etc/passwd). MLflow never writes those.
func (m *Manifest) checkPaths() error {
	names := make([]string, 0, len(m.Flavors))
	for name := range m.Flavors {
		names = append(names, name)
	}
	sort.Strings(names) // report the same flavor every time
	for _, name := range names {
		if _, err := flavorDataPath(name, m.Flavors[name]); err != nil && !isNoData(err) {
			return err
		}
	}
	if e := m.SavedInputExample; e != nil {
		for _, f := range [...]struct{ field, path string }{{"artifact_path", e.ArtifactPath}, {"serving_input_path", e.ServingInputPath}} {
			if f.path == "" {
				continue
			}
			if _, err := cleanRelPath(f.path); err != nil {
				return invalidf("%s: saved_input_example_info.%s %q: %s", ManifestFile, f.field, clip(f.path), err)
			}
		}
	}
	return nil
}

// safeUnmarshal runs the YAML parser, turning any panic of it into an error:
// the input is untrusted and this package promises not to panic.
func safeUnmarshal(data []byte, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML parser failed on this input")
		}
	}()
	return yaml.Unmarshal(data, doc)
}

func (m *Manifest) setField(dec *valueDecoder, key string, n *yaml.Node) error {
	var err error
	switch key {
	case "artifact_path":
		m.ArtifactPath, err = scalarText(n, key)
	case "run_id":
		m.RunID, err = scalarText(n, key)
	case "model_uuid":
		m.ModelUUID, err = scalarText(n, key)
	case "mlflow_version":
		m.MLflowVersion, err = scalarText(n, key)
	case "utc_time_created":
		var s string
		if s, err = scalarText(n, key); err == nil && s != "" {
			m.UTCTimeCreated, err = parseTime(s, n.Line)
		}
	case "flavors":
		err = m.setFlavors(dec, n)
	case "signature":
		m.Signature, err = signatureField(n)
	case "saved_input_example_info":
		m.SavedInputExample, err = inputExampleField(dec, n)
	case "metadata":
		m.Metadata, err = mappingField(dec, n, key)
	default:
		var v any
		if v, err = dec.decode(n, key, 1); err == nil {
			if m.Extra == nil {
				m.Extra = map[string]any{}
			}
			m.Extra[key] = v
		}
	}
	return err
}

// parseTime reads utc_time_created: MLflow's spelling (Python drops the
// fraction when it is zero) or the ISO 8601 of hand-written files.
func parseTime(s string, line int) (time.Time, error) {
	for _, layout := range [...]string{
		"2006-01-02 15:04:05.999999999",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999Z07:00",
		time.RFC3339Nano,
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, invalidf("%s: line %d: utc_time_created %q is not a time like %q", ManifestFile, line, clip(s), TimeLayout)
}

func (m *Manifest) setFlavors(dec *valueDecoder, n *yaml.Node) error {
	v, err := dec.decode(n, "flavors", 1)
	if err != nil {
		return err
	}
	if v == nil {
		return nil
	}
	fl, ok := v.(map[string]any)
	if !ok {
		return invalidf("%s: line %d: flavors must be a mapping of flavor name to fields, not a %s", ManifestFile, n.Line, typeName(v))
	}
	for name, f := range fl {
		fields, ok := f.(map[string]any)
		if f == nil {
			fields, ok = map[string]any{}, true
		}
		if !ok {
			return invalidf("%s: flavors.%s must be a mapping of fields, not a %s", ManifestFile, clip(name), typeName(f))
		}
		if name == "" {
			return invalidf("%s: line %d: a flavor has an empty name", ManifestFile, n.Line)
		}
		m.Flavors[name] = Flavor(fields)
	}
	return nil
}

func signatureField(n *yaml.Node) (*Signature, error) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, invalidf("%s: line %d: signature must be a mapping with inputs, outputs and params, not a %s", ManifestFile, n.Line, kindName(n))
	}
	parts := map[string]*string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, err := scalarKey(n.Content[i], "signature")
		if err != nil {
			return nil, err
		}
		if key != "inputs" && key != "outputs" && key != "params" {
			continue // MLflow ignores other keys too
		}
		s, err := scalarText(n.Content[i+1], "signature "+key)
		if err != nil {
			return nil, err
		}
		if s != "" {
			parts[key] = &s
		}
	}
	if len(parts) == 0 {
		return nil, nil // MLflow refuses a signature with no part; read it as none
	}
	return parseSignature(parts["inputs"], parts["outputs"], parts["params"])
}

func inputExampleField(dec *valueDecoder, n *yaml.Node) (*InputExampleInfo, error) {
	m, err := mappingField(dec, n, "saved_input_example_info")
	if err != nil || m == nil {
		return nil, err
	}
	info := &InputExampleInfo{}
	for k, v := range m {
		var dst *string
		switch k {
		case "artifact_path":
			dst = &info.ArtifactPath
		case "type":
			dst = &info.Type
		case "pandas_orient":
			dst = &info.PandasOrient
		case "serving_input_path":
			dst = &info.ServingInputPath
		default:
			if info.Extra == nil {
				info.Extra = map[string]any{}
			}
			info.Extra[k] = v
			continue
		}
		if v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return nil, invalidf("%s: saved_input_example_info.%s must be a string, not a %s", ManifestFile, k, typeName(v))
		}
		*dst = s
	}
	return info, nil
}

func mappingField(dec *valueDecoder, n *yaml.Node, field string) (map[string]any, error) {
	v, err := dec.decode(n, field, 1)
	if err != nil || v == nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidf("%s: line %d: %s must be a mapping, not a %s", ManifestFile, n.Line, field, typeName(v))
	}
	return m, nil
}

// Flavor returns the named flavor's fields.
func (m *Manifest) Flavor(name string) (Flavor, bool) {
	f, ok := m.Flavors[name]
	return f, ok
}

// Validate checks what Builder.Finish needs of a manifest: at least one flavor,
// a creation time, a valid signature, safe data paths in the known flavors, and
// no Extra key that shadows a field. Errors wrap an EINVALID *ferry.Error.
func (m *Manifest) Validate() error {
	if len(m.Flavors) == 0 {
		return invalidf("%s needs at least one flavor", ManifestFile)
	}
	for name, f := range m.Flavors {
		if name == "" {
			return invalidf("%s: a flavor has an empty name", ManifestFile)
		}
		if f == nil {
			return invalidf("%s: flavor %q has no fields", ManifestFile, clip(name))
		}
	}
	if err := m.checkPaths(); err != nil {
		return err
	}
	if m.UTCTimeCreated.IsZero() {
		return invalidf("%s: utc_time_created is required (fix it, e.g. to the run's end time, to keep packaging reproducible)", ManifestFile)
	}
	for k := range m.Extra {
		if isKnownKey(k) {
			return invalidf("%s: extra key %q shadows a field of the manifest", ManifestFile, k)
		}
	}
	if m.Signature != nil {
		if err := m.Signature.Validate(); err != nil {
			return err
		}
		if !m.Signature.validUTF8() {
			return invalidf("%s: the signature holds text that is not UTF-8", ManifestFile)
		}
	}
	if e := m.SavedInputExample; e != nil && e.ArtifactPath == "" {
		return invalidf("%s: saved_input_example_info needs an artifact_path", ManifestFile)
	}
	return nil
}

// Marshal encodes the manifest as an MLmodel file: YAML with the keys sorted
// as PyYAML's safe_dump sorts them, two-space indentation, sequences in
// MLflow's style, signature JSON and the creation time in single quotes. The
// same manifest always gives the same bytes.
func (m *Manifest) Marshal() ([]byte, error) {
	top := map[string]*yaml.Node{}
	set := func(k string, n *yaml.Node) { top[k] = n }
	for k, v := range m.Extra {
		if isKnownKey(k) {
			continue // the field wins
		}
		n, err := valueNode(v)
		if err != nil {
			return nil, err
		}
		set(k, n)
	}
	if m.ArtifactPath != "" {
		set("artifact_path", strNode(m.ArtifactPath))
	}
	flavors := make(map[string]any, len(m.Flavors))
	for k, f := range m.Flavors {
		flavors[k] = map[string]any(f)
	}
	fn, err := mapNode(flavors)
	if err != nil {
		return nil, err
	}
	set("flavors", fn)
	if m.RunID != "" {
		set("run_id", strNode(m.RunID))
	}
	if m.ModelUUID != "" {
		set("model_uuid", strNode(m.ModelUUID))
	}
	if m.MLflowVersion != "" {
		set("mlflow_version", strNode(m.MLflowVersion))
	}
	if !m.UTCTimeCreated.IsZero() {
		set("utc_time_created", quotedNode(formatTime(m.UTCTimeCreated)))
	}
	if s := m.Signature; s != nil && (s.Inputs != nil || s.Outputs != nil || s.Params != nil) {
		sn, err := signatureNode(m.Signature)
		if err != nil {
			return nil, err
		}
		set("signature", sn)
	}
	if e := m.SavedInputExample; e != nil {
		fields := map[string]any{}
		for k, v := range e.Extra {
			fields[k] = v
		}
		for k, v := range map[string]string{"artifact_path": e.ArtifactPath, "type": e.Type, "pandas_orient": e.PandasOrient, "serving_input_path": e.ServingInputPath} {
			if v != "" {
				fields[k] = v
			}
		}
		n, err := mapNode(fields)
		if err != nil {
			return nil, err
		}
		set("saved_input_example_info", n)
	}
	if m.Metadata != nil {
		n, err := mapNode(m.Metadata)
		if err != nil {
			return nil, err
		}
		set("metadata", n)
	}

	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, k := range keys {
		root.Content = append(root.Content, strNode(k), top[k])
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("model: encode %s: %w", ManifestFile, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("model: encode %s: %w", ManifestFile, err)
	}
	return buf.Bytes(), nil
}

func signatureNode(s *Signature) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	part := func(key string, text string, present bool) {
		v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
		if present {
			v = quotedNode(text)
		}
		n.Content = append(n.Content, strNode(key), v)
	}
	in, err := schemaJSON(s.Inputs)
	if err != nil {
		return nil, err
	}
	out, err := schemaJSON(s.Outputs)
	if err != nil {
		return nil, err
	}
	params, err := paramsJSON(s.Params)
	if err != nil {
		return nil, err
	}
	part("inputs", in, s.Inputs != nil)
	part("outputs", out, s.Outputs != nil)
	part("params", params, s.Params != nil)
	return n, nil
}

// clone returns a copy of m whose maps the caller may change without touching m.
// Flavor field values and Extra values are shared; they are treated as immutable.
func (m *Manifest) clone() *Manifest {
	c := *m
	c.Flavors = make(map[string]Flavor, len(m.Flavors))
	for k, f := range m.Flavors {
		nf := make(Flavor, len(f))
		for fk, fv := range f {
			nf[fk] = fv
		}
		c.Flavors[k] = nf
	}
	if m.Metadata != nil {
		c.Metadata = make(map[string]any, len(m.Metadata))
		for k, v := range m.Metadata {
			c.Metadata[k] = v
		}
	}
	if m.SavedInputExample != nil {
		e := *m.SavedInputExample
		c.SavedInputExample = &e
	}
	return &c
}
