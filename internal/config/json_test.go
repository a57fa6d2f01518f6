package config

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestJSONMatchesYAML: `ferry config show -o json` uses the YAML file's
// field names and values, so what it prints can be pasted back in a file.
func TestJSONMatchesYAML(t *testing.T) {
	c := Default()
	c.Server.ReadTimeout = 90 * time.Second
	c.S3.AccessKey = "AKIA"
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON map[string]any
	if err := json.Unmarshal(raw, &fromJSON); err != nil {
		t.Fatal(err)
	}
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var fromYAML map[string]any
	if err := yaml.Unmarshal(y, &fromYAML); err != nil {
		t.Fatal(err)
	}
	// Compare through JSON, so numbers have one type on both sides.
	norm, _ := json.Marshal(fromYAML)
	var want map[string]any
	_ = json.Unmarshal(norm, &want)
	if !reflect.DeepEqual(fromJSON, want) {
		t.Fatalf("JSON differs from YAML:\njson: %s\nyaml: %s", raw, norm)
	}
	server, _ := fromJSON["server"].(map[string]any)
	if server["read_timeout"] != "1m30s" || fromJSON["data_dir"] == nil {
		t.Fatalf("want YAML's names and values, got %s", raw)
	}
}

// TestJSONThenYAMLLoads: the JSON printed is also a valid config file
// (JSON is YAML).
func TestJSONThenYAMLLoads(t *testing.T) {
	c := Default()
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := yaml.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip through JSON: %+v != %+v", back, c)
	}
}
