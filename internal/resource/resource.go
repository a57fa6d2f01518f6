// Package resource reads the resource files of `ferry plan` and `ferry
// apply`: YAML documents, any number per file, each with `kind:` and
// `name:` and the kind's fields flat beside them (Azure ML CLI v2's names).
// One strict loader serves every kind: an unknown field names the file, the
// line and the closest valid field; an Azure-style `$schema:` is accepted
// and ignored.
package resource

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/monitor"
	"github.com/ferry-ml/ferry/internal/suggest"
	"github.com/ferry-ml/ferry/internal/yamlfile"
)

// Kinds a resource file may declare.
const (
	KindEndpoint   = "Endpoint"
	KindDeployment = "Deployment"
	KindMonitor    = "Monitor"
)

// envelope is what every document carries besides its kind's fields.
type envelope struct {
	Kind   string `yaml:"kind"`
	Schema string `yaml:"$schema,omitempty"`
}

type endpointDoc struct {
	envelope        `yaml:",inline"`
	deploy.Endpoint `yaml:",inline"`
}

type deploymentDoc struct {
	envelope          `yaml:",inline"`
	deploy.Deployment `yaml:",inline"`
}

type monitorDoc struct {
	envelope        `yaml:",inline"`
	monitor.Monitor `yaml:",inline"`
}

// kinds maps each kind to a new document of its type.
var kinds = map[string]func() any{
	KindEndpoint:   func() any { return new(endpointDoc) },
	KindDeployment: func() any { return new(deploymentDoc) },
	KindMonitor:    func() any { return new(monitorDoc) },
}

// Source is where a resource was declared.
type Source struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

func (s Source) String() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// Set is the resources of a set of files, each checked on its own.
type Set struct {
	Deploy   deploy.State
	Monitors []monitor.Monitor
	// Sources gives where each resource was declared, by "Endpoint/NAME",
	// "Deployment/ENDPOINT/NAME" or "Monitor/NAME".
	Sources map[string]Source
}

// Load reads path: one file, or every *.yaml and *.yml file under a
// directory, recursively, in name order. Every problem is an EINVALID
// *ferry.Error naming file:line; all problems of all files are reported.
func Load(path string) (Set, error) {
	files, err := list(path)
	if err != nil {
		return Set{}, err
	}
	set := Set{Sources: map[string]Source{}}
	var problems []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return Set{}, fmt.Errorf("read resources: %w", err)
		}
		problems = append(problems, set.add(f, data)...)
	}
	if len(problems) > 0 {
		return Set{}, ferry.Errorf(ferry.EINVALID, "%s", strings.Join(problems, "\n"))
	}
	return set, nil
}

func list(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "resources: %v", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(p); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read resources: %w", err)
	}
	sort.Strings(files)
	return files, nil
}

// add decodes every document of one file into set and returns its problems.
func (set *Set) add(file string, data []byte) []string {
	var problems []string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if !errors.Is(err, io.EOF) {
				problems = append(problems, fmt.Sprintf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: ")))
			}
			return problems
		}
		if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null") {
			continue // an empty document
		}
		if err := set.addDoc(file, &doc); err != nil {
			problems = append(problems, err.Error())
		}
	}
}

func (set *Set) addDoc(file string, doc *yaml.Node) error {
	root := doc.Content[0]
	at := Source{File: file, Line: root.Line}
	var env struct {
		Kind string `yaml:"kind"`
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: want a mapping with kind: and name:", at)
	}
	_ = root.Decode(&env) // a kind that is not a string is reported as missing below
	newDoc, ok := kinds[env.Kind]
	if !ok {
		names := make([]string, 0, len(kinds))
		for k := range kinds {
			names = append(names, k)
		}
		sort.Strings(names)
		msg := fmt.Sprintf("%s: kind %q: want one of %s", at, env.Kind, strings.Join(names, ", "))
		if env.Kind == "" {
			msg = fmt.Sprintf("%s: missing kind: (one of %s)", at, strings.Join(names, ", "))
		} else if c := suggest.Closest(env.Kind, names); c != "" {
			msg = fmt.Sprintf("%s: kind %q; did you mean %q?", at, env.Kind, c)
		}
		return errors.New(msg)
	}
	v := newDoc()
	if unknown := yamlfile.UnknownFields(doc, reflect.TypeOf(v)); len(unknown) > 0 {
		return &yamlfile.UnknownFieldsError{File: file, Fields: unknown}
	}
	if err := root.Decode(v); err != nil {
		return fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	switch d := v.(type) {
	case *endpointDoc:
		return set.put("Endpoint/"+d.Name, at, d.Endpoint.Validate(nil), func() {
			set.Deploy.Endpoints = append(set.Deploy.Endpoints, d.Endpoint)
		})
	case *deploymentDoc:
		return set.put("Deployment/"+d.EndpointName+"/"+d.Name, at, d.Deployment.Validate(), func() {
			set.Deploy.Deployments = append(set.Deploy.Deployments, d.Deployment)
		})
	case *monitorDoc:
		return set.put("Monitor/"+d.Name, at, d.Monitor.Validate(), func() {
			set.Monitors = append(set.Monitors, d.Monitor)
		})
	}
	return nil
}

// put records a decoded resource unless it is invalid or declared before.
func (set *Set) put(key string, at Source, invalid error, add func()) error {
	if invalid != nil {
		return fmt.Errorf("%s: %s", at, messageOf(invalid))
	}
	if prev, dup := set.Sources[key]; dup {
		return fmt.Errorf("%s: %s is already declared at %s", at, key, prev)
	}
	set.Sources[key] = at
	add()
	return nil
}

func messageOf(err error) string {
	var fe *ferry.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
}
