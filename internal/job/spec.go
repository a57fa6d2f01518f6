package job

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/yamlfile"
)

// Input types a spec may declare besides literal values.
const (
	URIFile   = "uri_file"
	URIFolder = "uri_folder"
)

// DefaultExperiment is the experiment of a spec that names none.
const DefaultExperiment = "Default"

// DefaultBackoff is the delay before the first retry when retries.backoff is
// not set.
const DefaultBackoff = time.Second

// maxRetries bounds retries.max.
const maxRetries = 100

// Spec is a command job, read from YAML in the vocabulary of Azure ML's
// command jobs, with every path resolved and every field validated. LoadSpec
// and ParseSpec build it; a Spec is a plain value and not modified afterwards.
type Spec struct {
	Path           string            // the file it was read from; "" when parsed from bytes
	Name           string            // name; used as the run name when DisplayName is empty
	DisplayName    string            // display_name: the run name
	ExperimentName string            // experiment_name; DefaultExperiment when absent
	Description    string            // description: recorded as the run's note
	Code           string            // code: the absolute working directory
	Command        string            // command, with its ${{inputs.x}} and ${{outputs.y}} references
	Inputs         map[string]Input  // inputs by name
	Outputs        map[string]Output // outputs by name
	Env            map[string]string // environment_variables
	Timeout        time.Duration     // limits.timeout for the whole job; 0 means none
	Retries        RetryPolicy       // retries (a Ferry extension)
	Tags           map[string]string // tags of the run
}

// Input is a job input: a literal value (Type "") or a file or folder
// (URIFile, URIFolder).
type Input struct {
	Type  string // "", URIFile or URIFolder
	Value string // the literal value, or the path or URI as the spec writes it
	// Path is what ${{inputs.NAME}} becomes: the literal value, the absolute
	// local path of a relative path (resolved against the spec's directory), or
	// the URI as written.
	Path string
}

// Output is a job output: a folder the command writes and whose files become
// the run's artifacts under outputs/<name>/.
type Output struct {
	Type string // URIFolder
}

// RetryPolicy says how often a failed attempt (a non-zero exit) is retried.
// Cancelled and timed-out jobs are never retried.
type RetryPolicy struct {
	Max     int           // retries after the first attempt; 0 means none
	Backoff time.Duration // delay before the first retry; doubled for each further one
}

// maxBackoff caps the delay between attempts.
const maxBackoff = 10 * time.Minute

// Delay returns how long to wait after failed attempt n (1 for the first
// attempt) before the next: Backoff·2^(n-1), capped at ten minutes.
func (p RetryPolicy) Delay(n int) time.Duration {
	d := p.Backoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// ValidationError lists every problem found in a job spec. Each problem names
// the offending field as its YAML path (such as "limits.timeout") or the line
// of an unknown field, and says what to fix. It unwraps to a *ferry.Error
// with code EINVALID and the same message.
type ValidationError struct {
	Source   string // the spec's file, or "" when parsed from bytes
	Problems []string
}

// Error joins the problems on one line.
func (e *ValidationError) Error() string {
	src := ""
	if e.Source != "" {
		src = " " + e.Source
	}
	return "invalid job spec" + src + ": " + strings.Join(e.Problems, "; ")
}

// Unwrap returns the error as a *ferry.Error with code EINVALID.
func (e *ValidationError) Unwrap() error { return ferry.Errorf(ferry.EINVALID, "%s", e.Error()) }

type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

// LoadSpec reads the job spec at path, applies overrides (see ParseSpec) and
// validates it. Relative paths in it are relative to its directory. A file
// that cannot be read is an error wrapping the os error; a spec with problems
// is a *ValidationError listing all of them.
func LoadSpec(path string, overrides []string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("job spec: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("job spec: %w", err)
	}
	s, err := ParseSpec(data, filepath.Dir(abs), overrides)
	var ve *ValidationError
	if errors.As(err, &ve) {
		ve.Source = path
	}
	if s != nil {
		s.Path = path
	}
	return s, err
}

// ParseSpec parses and validates a job spec whose relative paths are relative
// to baseDir. It checks that code and local input paths exist.
//
// Each override is "FIELD.PATH=VALUE", as the CLI's --set takes it, and sets
// that field before validation: "inputs.lr=0.2", "limits.timeout=10m",
// "environment_variables.SEED=7". Setting a file or folder input
// ("inputs.data=./other.csv") sets its path.
//
// Any problem, including an unknown field, makes a *ValidationError listing
// every problem found.
func ParseSpec(data []byte, baseDir string, overrides []string) (*Spec, error) {
	var p problems
	var f specFile
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &ValidationError{Problems: []string{"not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if root.Kind == 0 || len(root.Content) == 0 || root.Content[0].Kind == yaml.ScalarNode && root.Content[0].Tag == "!!null" {
		return nil, &ValidationError{Problems: []string{"the spec is empty; it needs at least type: command and a command"}}
	}
	if len(overrides) > 0 {
		for _, o := range overrides {
			if err := override(root.Content[0], o); err != nil {
				p = append(p, err.Error())
			}
		}
		var err error
		if data, err = yaml.Marshal(&root); err != nil {
			return nil, fmt.Errorf("job spec: re-encode after --set: %w", err)
		}
	}
	unknown := yamlfile.UnknownFields(&root, reflect.TypeOf(&f))
	for _, u := range unknown {
		p = append(p, u.String())
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(len(unknown) == 0)
	if err := dec.Decode(&f); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, &ValidationError{Problems: append(p, "not valid YAML: "+strings.TrimPrefix(err.Error(), "yaml: "))}
		}
		for _, msg := range te.Errors {
			p = append(p, typeErrorMessage(msg))
		}
	}
	s := f.resolve(baseDir, &p)
	if len(p) > 0 {
		return nil, &ValidationError{Problems: p}
	}
	return s, nil
}

// typeErrorMessage rewrites a YAML decoding error so that it names the field
// rather than a Go type.
func typeErrorMessage(msg string) string {
	return strings.ReplaceAll(msg, "into job.specFile", "")
}

// specFile is the YAML shape of a spec before resolution.
type specFile struct {
	Schema               string               `yaml:"$schema"`
	Type                 string               `yaml:"type"`
	Name                 string               `yaml:"name"`
	DisplayName          string               `yaml:"display_name"`
	ExperimentName       string               `yaml:"experiment_name"`
	Description          string               `yaml:"description"`
	Code                 string               `yaml:"code"`
	Command              string               `yaml:"command"`
	Inputs               map[string]yaml.Node `yaml:"inputs"`
	Outputs              map[string]yaml.Node `yaml:"outputs"`
	EnvironmentVariables map[string]string    `yaml:"environment_variables"`
	Limits               struct {
		Timeout yaml.Node `yaml:"timeout"`
	} `yaml:"limits"`
	Retries struct {
		Max     yaml.Node `yaml:"max"`
		Backoff yaml.Node `yaml:"backoff"`
	} `yaml:"retries"`
	Tags map[string]string `yaml:"tags"`
}

var (
	ioName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// reference matches ${{ ... }} in a command.
	reference = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)
	uriScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

// reservedEnv are variables the job gets from Ferry and a spec may not set.
var reservedEnv = []string{EnvTrackingURI, EnvRunID, EnvExperimentID, EnvFerryRunID, EnvOutputsDir, EnvJobID}

func (f *specFile) resolve(baseDir string, p *problems) *Spec {
	s := &Spec{
		Name: f.Name, DisplayName: f.DisplayName, ExperimentName: f.ExperimentName, Description: f.Description,
		Command: strings.TrimSpace(f.Command), Inputs: map[string]Input{}, Outputs: map[string]Output{},
		Env: map[string]string{}, Tags: map[string]string{},
	}
	switch f.Type {
	case "command":
	case "":
		p.add("type", "required; the only type is \"command\"")
	default:
		p.add("type", "unsupported type %q; the only type is \"command\"", f.Type)
	}
	if s.ExperimentName == "" {
		s.ExperimentName = DefaultExperiment
	}
	if s.Command == "" {
		p.add("command", "required: the shell command to run, such as \"python train.py --lr ${{inputs.lr}}\"")
	}

	code := f.Code
	if code == "" {
		code = "."
	}
	if !filepath.IsAbs(code) {
		code = filepath.Join(baseDir, code)
	}
	s.Code = filepath.Clean(code)
	if fi, err := os.Stat(s.Code); err != nil {
		p.add("code", "directory %s does not exist", f.Code)
	} else if !fi.IsDir() {
		p.add("code", "%s is not a directory", f.Code)
	}

	for _, name := range sortedNames(f.Inputs) {
		if in, ok := resolveInput(name, f.Inputs[name], baseDir, p); ok {
			s.Inputs[name] = in
		}
	}
	for _, name := range sortedNames(f.Outputs) {
		if out, ok := resolveOutput(name, f.Outputs[name], p); ok {
			s.Outputs[name] = out
		}
	}
	checkReferences(s.Command, f.Inputs, f.Outputs, p)

	for k, v := range f.EnvironmentVariables {
		switch {
		case !envName.MatchString(k):
			p.add("environment_variables."+k, "not a valid variable name; use letters, digits and _")
		case isReserved(k):
			p.add("environment_variables."+k, "set by Ferry for every job; remove it")
		default:
			s.Env[k] = v
		}
	}
	for k, v := range f.Tags {
		s.Tags[k] = v
	}

	var err error
	if s.Timeout, err = duration(f.Limits.Timeout); err != nil {
		p.add("limits.timeout", "%v", err)
	} else if s.Timeout < 0 || isSet(f.Limits.Timeout) && s.Timeout == 0 {
		p.add("limits.timeout", "must be positive, got %s; leave it out for no limit", f.Limits.Timeout.Value)
	}
	s.Retries.Backoff = DefaultBackoff
	if isSet(f.Retries.Max) {
		n, err := strconv.Atoi(f.Retries.Max.Value)
		if err != nil || n < 0 || n > maxRetries {
			p.add("retries.max", "must be a whole number from 0 to %d, got %q", maxRetries, f.Retries.Max.Value)
		}
		s.Retries.Max = n
	}
	if isSet(f.Retries.Backoff) {
		if s.Retries.Backoff, err = duration(f.Retries.Backoff); err != nil {
			p.add("retries.backoff", "%v", err)
		} else if s.Retries.Backoff < 0 {
			p.add("retries.backoff", "must not be negative, got %s", f.Retries.Backoff.Value)
		}
	}
	return s
}

func isSet(n yaml.Node) bool { return n.Kind != 0 && n.Tag != "!!null" }

func isReserved(k string) bool {
	if strings.HasPrefix(k, "FERRY_") {
		return true
	}
	for _, r := range reservedEnv {
		if k == r {
			return true
		}
	}
	return false
}

// duration parses seconds (600, 1.5, "600") or a Go duration ("10m",
// "1h30m"). An absent value is 0.
func duration(n yaml.Node) (time.Duration, error) {
	if !isSet(n) {
		return 0, nil
	}
	if n.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("want seconds (600) or a duration such as \"10m\", got a %s", kindName(n.Kind))
	}
	if secs, err := strconv.ParseFloat(n.Value, 64); err == nil {
		if secs > 1e9 {
			return 0, fmt.Errorf("%s seconds is too long", n.Value)
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		return 0, fmt.Errorf("%q is neither seconds (600) nor a duration such as \"10m\"", n.Value)
	}
	return d, nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// mappingFields returns the fields of a mapping node, reporting unknown and
// non-scalar ones.
func mappingFields(field string, n yaml.Node, known []string, p *problems) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		ok := false
		for _, kn := range known {
			ok = ok || k == kn
		}
		switch {
		case !ok:
			p.add(field, "unknown field %q (line %d); known fields are %s", k, n.Content[i].Line, strings.Join(known, ", "))
		case v.Kind != yaml.ScalarNode:
			p.add(field+"."+k, "want a value, got a %s", kindName(v.Kind))
		default:
			out[k] = v.Value
		}
	}
	return out
}

func resolveInput(name string, n yaml.Node, baseDir string, p *problems) (Input, bool) {
	field := "inputs." + name
	if !ioName.MatchString(name) {
		p.add(field, "not a valid input name; use letters, digits and _")
		return Input{}, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			p.add(field, "needs a value, such as 0.1, or {type: uri_file, path: ./data.csv}")
			return Input{}, false
		}
		return Input{Value: n.Value, Path: n.Value}, true
	case yaml.MappingNode:
	default:
		p.add(field, "want a value or {type, path}, got a %s", kindName(n.Kind))
		return Input{}, false
	}
	m := mappingFields(field, n, []string{"type", "path", "mode", "description"}, p)
	in := Input{Type: m["type"], Value: m["path"]}
	ok := true
	switch in.Type {
	case URIFile, URIFolder:
	case "":
		p.add(field+".type", "required: %s or %s", URIFile, URIFolder)
		ok = false
	default:
		p.add(field+".type", "unsupported type %q; use %s or %s, or give a literal value", in.Type, URIFile, URIFolder)
		ok = false
	}
	if in.Value == "" {
		p.add(field+".path", "required: a local path (relative to the spec's directory) or a URI")
		return in, false
	}
	in.Path = in.Value
	local := in.Value
	if strings.HasPrefix(local, "file://") {
		local = strings.TrimPrefix(local, "file://")
	} else if uriScheme.MatchString(local) && !filepath.IsAbs(local) {
		return in, ok // a URI the command resolves itself
	}
	if !filepath.IsAbs(local) {
		local = filepath.Join(baseDir, local)
	}
	in.Path = filepath.Clean(local)
	fi, err := os.Stat(in.Path)
	switch {
	case err != nil:
		p.add(field+".path", "%s does not exist", in.Value)
		ok = false
	case in.Type == URIFile && fi.IsDir():
		p.add(field+".path", "%s is a directory; use type %s", in.Value, URIFolder)
		ok = false
	case in.Type == URIFolder && !fi.IsDir():
		p.add(field+".path", "%s is not a directory; use type %s", in.Value, URIFile)
		ok = false
	}
	return in, ok
}

func resolveOutput(name string, n yaml.Node, p *problems) (Output, bool) {
	field := "outputs." + name
	if !ioName.MatchString(name) {
		p.add(field, "not a valid output name; use letters, digits and _")
		return Output{}, false
	}
	out := Output{Type: URIFolder}
	switch {
	case !isSet(n):
		return out, true
	case n.Kind != yaml.MappingNode:
		p.add(field, "want {type: %s}, got a %s", URIFolder, kindName(n.Kind))
		return out, false
	}
	m := mappingFields(field, n, []string{"type", "mode", "description"}, p)
	if t := m["type"]; t != "" && t != URIFolder {
		p.add(field+".type", "unsupported type %q; outputs are folders (%s)", t, URIFolder)
		return out, false
	}
	return out, true
}

// checkReferences reports ${{...}} references that name no input or output.
func checkReferences(command string, inputs, outputs map[string]yaml.Node, p *problems) {
	for _, m := range reference.FindAllStringSubmatch(command, -1) {
		kind, name, _ := strings.Cut(m[1], ".")
		var names map[string]yaml.Node
		switch kind {
		case "inputs":
			names = inputs
		case "outputs":
			names = outputs
		default:
			p.add("command", "unsupported reference %s; use ${{inputs.NAME}} or ${{outputs.NAME}}", m[0])
			continue
		}
		if _, ok := names[name]; !ok {
			declared := "none are declared"
			if len(names) > 0 {
				declared = "declared: " + strings.Join(sortedNames(names), ", ")
			}
			p.add("command", "%s names no %s (%s)", m[0], strings.TrimSuffix(kind, "s"), declared)
		}
	}
}

// Render returns the command with ${{inputs.NAME}} replaced by each input's
// Path and ${{outputs.NAME}} by outputDirs[NAME]. Values are substituted as
// they are, without shell quoting, as Azure ML does. A reference to an output
// missing from outputDirs is an error.
func (s *Spec) Render(outputDirs map[string]string) (string, error) {
	var err error
	cmd := reference.ReplaceAllStringFunc(s.Command, func(ref string) string {
		kind, name, _ := strings.Cut(reference.FindStringSubmatch(ref)[1], ".")
		switch kind {
		case "inputs":
			if in, ok := s.Inputs[name]; ok {
				return in.Path
			}
		case "outputs":
			if dir, ok := outputDirs[name]; ok {
				return dir
			}
		}
		if err == nil {
			err = fmt.Errorf("job: command references %s, which has no value", ref)
		}
		return ref
	})
	return cmd, err
}

// Params returns the inputs as run params: literal values as they are, files
// and folders as the path or URI the spec writes.
func (s *Spec) Params() map[string]string {
	out := make(map[string]string, len(s.Inputs))
	for k, in := range s.Inputs {
		out[k] = in.Value
	}
	return out
}

// RunName is the name of the job's run: DisplayName, else Name, else "" (the
// tracking server picks one).
func (s *Spec) RunName() string {
	if s.DisplayName != "" {
		return s.DisplayName
	}
	return s.Name
}

// override applies one "FIELD.PATH=VALUE" to the document's root mapping.
func override(root *yaml.Node, o string) error {
	key, value, ok := strings.Cut(o, "=")
	if !ok || key == "" {
		return fmt.Errorf("--set %q: want FIELD=VALUE, such as inputs.lr=0.2", o)
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("--set %s: the spec is not a mapping", key)
	}
	parts := strings.Split(key, ".")
	n := root
	for i, part := range parts {
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("--set %s: %s is not a mapping", key, strings.Join(parts[:i], "."))
		}
		var child *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == part {
				child = n.Content[j+1]
			}
		}
		if child == nil {
			child = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: part}, child)
		}
		n = child
	}
	if parts[0] == "inputs" && len(parts) == 2 && n.Kind == yaml.MappingNode && len(n.Content) > 0 {
		return override(n, "path="+value) // a file or folder input: set its path
	}
	*n = yaml.Node{Kind: yaml.ScalarNode, Value: value}
	if value == "" {
		n.Tag = "!!null"
	}
	return nil
}
