package registry

import (
	"fmt"
	"testing"

	"github.com/ferry-ml/ferry"
)

// TestParseFilter covers the registry search grammar MLflow's SQL store
// takes: name and tags.<key> with =, !=, LIKE and ILIKE, joined by AND.
func TestParseFilter(t *testing.T) {
	models := map[string][]string{"name": stringOps, "tag": stringOps}
	versions := map[string][]string{"name": stringOps, "run_id": {"=", "!="}, "tag": stringOps}
	tests := []struct {
		name    string
		allowed map[string][]string
		filter  string
		want    string
	}{
		{"empty", models, "  ", "[]"},
		{"name equal", models, "name = 'churn'", "[{name  = churn}]"},
		{"name like, lower-case operator", models, "name like 'ch%'", "[{name  LIKE ch%}]"},
		{"tag equal", models, "tags.team = 'growth'", "[{tag team = growth}]"},
		{"tag in the singular, double quotes", models, `tag.team != "risk"`, "[{tag team != risk}]"},
		{"backticked tag key", models, "tags.`my key` ILIKE '%x%'", "[{tag my key ILIKE %x%}]"},
		{"tag key with dots and dashes", models, "tags.a.b-c='1'", "[{tag a.b-c = 1}]"},
		{"several conditions", models, "name LIKE 'c%' AND tags.team = 'g' and tags.tier != 'x'", "[{name  LIKE c%} {tag team = g} {tag tier != x}]"},
		{"version name like", versions, "name LIKE 'ch%' AND run_id = 'abc'", "[{name  LIKE ch%} {run_id  = abc}]"},
		{"quote escaped by doubling", versions, "name = 'o''brien'", "[{name  = o'brien}]"},
		{"attribute prefix", versions, "attributes.name = 'x'", "[{name  = x}]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFilter(tt.filter, tt.allowed)
			if err != nil {
				t.Fatal(err)
			}
			if s := fmt.Sprint(got); s != tt.want {
				t.Fatalf("got %s, want %s", s, tt.want)
			}
		})
	}
	bad := []struct {
		name    string
		allowed map[string][]string
		filter  string
	}{
		{"unknown key", models, "colour = 'red'"},
		{"run_id on models", models, "run_id = 'x'"},
		{"like on run_id", versions, "run_id LIKE 'x%'"},
		{"unquoted value", models, "name = churn"},
		{"unclosed string", models, "name = 'churn"},
		{"unclosed backtick", models, "tags.`team = 'x'"},
		{"tag without key", models, "tags. = 'x'"},
		{"OR", models, "name = 'a' OR name = 'b'"},
		{"dangling AND", models, "name = 'a' AND"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFilter(tt.filter, tt.allowed)
			if ferry.ErrorCode(err) != ferry.EINVALID {
				t.Fatalf("err = %v, want EINVALID", err)
			}
		})
	}
}
