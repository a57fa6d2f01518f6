package tracking

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
)

func cmpNum(e Entity, key, op string, v float64) Comparison {
	return Comparison{Entity: e, Key: key, Op: op, Num: v, IsNum: true}
}

func cmpStr(e Entity, key, op, v string) Comparison {
	return Comparison{Entity: e, Key: key, Op: op, Str: v}
}

func cmpList(e Entity, key, op string, vs ...string) Comparison {
	return Comparison{Entity: e, Key: key, Op: op, Values: vs}
}

// wantFilterInvalid fails t unless err is a *ferry.Error with code EINVALID whose
// message contains every fragment.
func wantFilterInvalid(t *testing.T, err error, fragments ...string) {
	t.Helper()
	var fe *ferry.Error
	if !errors.As(err, &fe) || fe.Code != ferry.EINVALID {
		t.Fatalf("err = %v, want a *ferry.Error with code %s", err, ferry.EINVALID)
	}
	for _, f := range fragments {
		if !strings.Contains(fe.Message, f) {
			t.Errorf("message %q does not contain %q", fe.Message, f)
		}
	}
}

func TestParseRunFilter(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		want   Filter
	}{
		{"empty", "", nil},
		{"blank", " \t\n ", nil},
		{"example", `metrics.acc > 0.9 and params.lr = '0.1' and tags.x LIKE 'a%' and attributes.status = 'FINISHED'`, Filter{
			cmpNum(EntityMetric, "acc", ">", 0.9),
			cmpStr(EntityParam, "lr", "=", "0.1"),
			cmpStr(EntityTag, "x", "LIKE", "a%"),
			cmpStr(EntityAttribute, "status", "=", "FINISHED"),
		}},
		{"metric =", "metrics.acc = 1", Filter{cmpNum(EntityMetric, "acc", "=", 1)}},
		{"metric !=", "metric.acc != 1", Filter{cmpNum(EntityMetric, "acc", "!=", 1)}},
		{"metric >=", "metrics.acc >= -2", Filter{cmpNum(EntityMetric, "acc", ">=", -2)}},
		{"metric <", "metrics.acc < +3.5", Filter{cmpNum(EntityMetric, "acc", "<", 3.5)}},
		{"metric <= exponent", "metrics.loss <= 1e-3", Filter{cmpNum(EntityMetric, "loss", "<=", 1e-3)}},
		{"metric leading dot", "metrics.loss < .5", Filter{cmpNum(EntityMetric, "loss", "<", .5)}},
		{"metric trailing dot", "metrics.loss < 5.", Filter{cmpNum(EntityMetric, "loss", "<", 5)}},
		{"metric no spaces", "metrics.acc>=0.5", Filter{cmpNum(EntityMetric, "acc", ">=", 0.5)}},
		{"metric key with slash", "metrics.val/loss < 0.2", Filter{cmpNum(EntityMetric, "val/loss", "<", 0.2)}},
		{"metric key with colon and dash", "metrics.a:b-c_d > 0", Filter{cmpNum(EntityMetric, "a:b-c_d", ">", 0)}},
		{"metric key starting with digit", "metrics.1st > 0", Filter{cmpNum(EntityMetric, "1st", ">", 0)}},
		{"metric double-quoted key", `metrics."my metric" > 1`, Filter{cmpNum(EntityMetric, "my metric", ">", 1)}},
		{"metric backtick key", "metrics.`prediction accuracy` >= 0.945", Filter{cmpNum(EntityMetric, "prediction accuracy", ">=", 0.945)}},
		{"param aliases", `param.a = 'x' and params.b = 'y' and parameter.c = 'z' and parameters.d = 'w'`, Filter{
			cmpStr(EntityParam, "a", "=", "x"), cmpStr(EntityParam, "b", "=", "y"),
			cmpStr(EntityParam, "c", "=", "z"), cmpStr(EntityParam, "d", "=", "w"),
		}},
		{"param double-quoted value", `params.model = "CNN"`, Filter{cmpStr(EntityParam, "model", "=", "CNN")}},
		{"param backtick key", "params.`a b` != 'x'", Filter{cmpStr(EntityParam, "a b", "!=", "x")}},
		{"param ilike lower case", "params.m ilike '%cnn%'", Filter{cmpStr(EntityParam, "m", "ILIKE", "%cnn%")}},
		{"param is null", "params.lr IS NULL", Filter{{Entity: EntityParam, Key: "lr", Op: "IS NULL"}}},
		{"param is not null", "params.lr is  not\tnull", Filter{{Entity: EntityParam, Key: "lr", Op: "IS NOT NULL"}}},
		{"tag dotted key", "tags.mlflow.runName = 'r1'", Filter{cmpStr(EntityTag, "mlflow.runName", "=", "r1")}},
		{"tag quoted dotted key", `tag."mlflow.user" = 'me'`, Filter{cmpStr(EntityTag, "mlflow.user", "=", "me")}},
		{"tag is not null", "tags.x IS NOT NULL", Filter{{Entity: EntityTag, Key: "x", Op: "IS NOT NULL"}}},
		{"value doubled quote", `tags.x = 'it''s'`, Filter{cmpStr(EntityTag, "x", "=", "it's")}},
		{"value backslash quote", `tags.x = 'it\'s'`, Filter{cmpStr(EntityTag, "x", "=", "it's")}},
		{"value escaped double quote", `tags.x = "say \"hi\""`, Filter{cmpStr(EntityTag, "x", "=", `say "hi"`)}},
		{"value other quote kind", `tags.x = "it's"`, Filter{cmpStr(EntityTag, "x", "=", "it's")}},
		{"value like escape kept", `tags.x LIKE '50\%'`, Filter{cmpStr(EntityTag, "x", "LIKE", `50\%`)}},
		{"value backslash pair", `tags.x = 'a\\'`, Filter{cmpStr(EntityTag, "x", "=", `a\`)}},
		{"value empty", `tags.x = ''`, Filter{cmpStr(EntityTag, "x", "=", "")}},
		{"value unicode", `tags.x = 'héllo ✓'`, Filter{cmpStr(EntityTag, "x", "=", "héllo ✓")}},
		{"key doubled backtick", "tags.`a``b` = 'x'", Filter{cmpStr(EntityTag, "a`b", "=", "x")}},
		{"attribute aliases", `attribute.status = 'A' and attr.status = 'B' and run.status = 'C'`, Filter{
			cmpStr(EntityAttribute, "status", "=", "A"), cmpStr(EntityAttribute, "status", "=", "B"), cmpStr(EntityAttribute, "status", "=", "C"),
		}},
		{"attribute string keys", `attributes.run_name LIKE 'x%' and attributes.user_id != 'u' and attributes.artifact_uri ILIKE 's3://%' and attributes.lifecycle_stage = 'active'`, Filter{
			cmpStr(EntityAttribute, "run_name", "LIKE", "x%"), cmpStr(EntityAttribute, "user_id", "!=", "u"),
			cmpStr(EntityAttribute, "artifact_uri", "ILIKE", "s3://%"), cmpStr(EntityAttribute, "lifecycle_stage", "=", "active"),
		}},
		{"attribute run name alias", `attributes."Run name" = 'x'`, Filter{cmpStr(EntityAttribute, "run_name", "=", "x")}},
		{"attribute numeric", "attributes.start_time >= 1000 and attributes.end_time < 2000", Filter{
			cmpNum(EntityAttribute, "start_time", ">=", 1000), cmpNum(EntityAttribute, "end_time", "<", 2000),
		}},
		{"attribute created alias", "attributes.created > 5", Filter{cmpNum(EntityAttribute, "start_time", ">", 5)}},
		{"attribute run_id in", "attributes.run_id IN ('a', 'b')", Filter{cmpList(EntityAttribute, "run_id", "IN", "a", "b")}},
		{"attribute run_id not in", `attributes.run_id not in ("a")`, Filter{cmpList(EntityAttribute, "run_id", "NOT IN", "a")}},
		{"attribute run_id in no spaces", "run_id IN('a','b','c')", Filter{cmpList(EntityAttribute, "run_id", "IN", "a", "b", "c")}},
		{"bare attribute", "status = 'FINISHED' AND run_name = 'x'", Filter{
			cmpStr(EntityAttribute, "status", "=", "FINISHED"), cmpStr(EntityAttribute, "run_name", "=", "x"),
		}},
		{"bare numeric attribute", "start_time > 0", Filter{cmpNum(EntityAttribute, "start_time", ">", 0)}},
		{"bare quoted attribute", `"Run Name" = 'x'`, Filter{cmpStr(EntityAttribute, "run_name", "=", "x")}},
		{"dataset", "dataset.name = 'd' and datasets.digest != 'x' and dataset.context LIKE 'tr%'", Filter{
			cmpStr(EntityDataset, "name", "=", "d"), cmpStr(EntityDataset, "digest", "!=", "x"), cmpStr(EntityDataset, "context", "LIKE", "tr%"),
		}},
		{"dataset in", "dataset.context IN ('train', 'test') and dataset.name NOT IN ('x')", Filter{
			cmpList(EntityDataset, "context", "IN", "train", "test"), cmpList(EntityDataset, "name", "NOT IN", "x"),
		}},
		{"entity prefix case-insensitive", "METRICS.acc > 1 AnD Tags.t = 'x'", Filter{cmpNum(EntityMetric, "acc", ">", 1), cmpStr(EntityTag, "t", "=", "x")}},
		{"keyword-like key", "params.and = 'x'", Filter{cmpStr(EntityParam, "and", "=", "x")}},
		{"newlines", "metrics.a > 1\nAND\nmetrics.b < 2", Filter{cmpNum(EntityMetric, "a", ">", 1), cmpNum(EntityMetric, "b", "<", 2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRunFilter(tt.filter)
			if err != nil {
				t.Fatalf("ParseRunFilter(%q): %v", tt.filter, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseRunFilter(%q)\n got %#v\nwant %#v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestParseRunFilterErrors(t *testing.T) {
	tests := []struct {
		name      string
		filter    string
		fragments []string
	}{
		{"or", "metrics.a > 1 OR metrics.b > 2", []string{"OR is not supported", "position 15"}},
		{"trailing and", "metrics.a > 1 and", []string{"expected an identifier", "at the end"}},
		{"leading and", "and metrics.a > 1", []string{"unknown attribute 'and'", "position 1"}},
		{"missing and", "metrics.a > 1 metrics.b > 2", []string{"expected AND", "position 15"}},
		{"unknown entity", "metricz.a > 1", []string{"unknown entity type 'metricz'", "metrics, params, tags, attributes or datasets"}},
		{"unknown attribute", "attributes.foo = 'x'", []string{"unknown attribute 'foo'", "run_id", "start_time", "status"}},
		{"bare unknown attribute", "acc > 1", []string{"unknown attribute 'acc'", "prefix"}},
		{"experiment_id not searchable", "attributes.experiment_id = '1'", []string{"unknown attribute 'experiment_id'"}},
		{"unknown dataset key", "dataset.foo = 'x'", []string{"unknown dataset key 'foo'", "name, digest, context"}},
		{"missing key", "metrics. > 1", []string{"expected a key after 'metrics.'"}},
		{"empty quoted key", `metrics."" > 1`, []string{"empty key"}},
		{"unterminated quoted key", "params.`a b = 'x'", []string{"unterminated `-quoted string", "position 8"}},
		{"unterminated value", "params.a = 'x", []string{"unterminated '-quoted string", "position 12"}},
		{"escaped quote does not close", `params.a = 'x\'`, []string{"unterminated"}},
		{"metric quoted number", "metrics.acc > '0.9'", []string{"expected a number for metric 'acc'", "quoted string"}},
		{"metric word value", "metrics.acc > abc", []string{"expected a number for metric 'acc'", "'abc'"}},
		{"metric nan", "metrics.acc > NaN", []string{"expected a number", "'NaN'"}},
		{"metric inf", "metrics.acc > inf", []string{"expected a number"}},
		{"metric hex", "metrics.acc > 0x10", []string{"expected a number", "'0x10'"}},
		{"metric number glued to word", "metrics.acc > 0.9and params.a = 'x'", []string{"expected a number", "'0.9and'"}},
		{"metric out of range", "metrics.acc > 1e999", []string{"out of range"}},
		{"metric like", "metrics.acc LIKE '1'", []string{"operator LIKE is not valid for metric 'acc'", "=, !=, >, >=, <, <="}},
		{"metric missing value", "metrics.acc >", []string{"expected a number", "at the end"}},
		{"param number value", "params.lr = 0.1", []string{"expected a string in single or double quotes for param 'lr'"}},
		{"param backtick value", "params.lr = `0.1`", []string{"expected a string in single or double quotes"}},
		{"param greater", "params.lr > '0.1'", []string{"operator > is not valid for param 'lr'", "IS NOT NULL"}},
		{"param in", "params.lr IN ('a')", []string{"operator IN is not valid for param 'lr'"}},
		{"tag unquoted value", "tags.x = abc", []string{"expected a string", "'abc'"}},
		{"unknown symbol operator", "tags.x == 'a'", []string{"unknown operator '=='"}},
		{"diamond operator", "metrics.x <> 1", []string{"unknown operator '<>'"}},
		{"unknown word operator", "tags.x CONTAINS 'a'", []string{"expected a comparison operator", "'CONTAINS'"}},
		{"not like", "tags.x NOT LIKE 'a'", []string{"expected IN after NOT", "'LIKE'"}},
		{"is garbage", "tags.x IS 'a'", []string{"expected NULL or NOT NULL after IS"}},
		{"is not garbage", "tags.x IS NOT 'a'", []string{"expected NULL or NOT NULL after IS"}},
		{"missing operator", "tags.x", []string{"expected a comparison operator", "at the end"}},
		{"string attribute numeric op", "attributes.status > 'A'", []string{"operator > is not valid for attribute 'status'"}},
		{"numeric attribute string value", "attributes.start_time > '5'", []string{"expected a number for attribute 'start_time'"}},
		{"numeric attribute like", "attributes.end_time LIKE '5'", []string{"operator LIKE is not valid for attribute 'end_time'"}},
		{"in on non run_id", "attributes.status IN ('A')", []string{"operator IN is not valid for attribute 'status'"}},
		{"attribute is null", "attributes.run_name IS NULL", []string{"operator IS NULL is not valid"}},
		{"in without list", "attributes.run_id IN 'a'", []string{"expected a parenthesised list"}},
		{"in empty list", "attributes.run_id IN ()", []string{"non-empty list"}},
		{"in trailing comma", "attributes.run_id IN ('a',)", []string{"expected a string"}},
		{"in unclosed", "attributes.run_id IN ('a'", []string{"expected ',' or ')'", "at the end"}},
		{"in unquoted", "attributes.run_id IN (a)", []string{"expected a string", "'a)'"}},
		{"dataset numeric op", "dataset.name > 'a'", []string{"operator > is not valid for dataset 'name'"}},
		{"parentheses", "(metrics.a > 1)", []string{"expected an identifier", "position 1"}},
		{"semicolon", "metrics.a > 1; metrics.b > 1", []string{"expected a number", "'1;'"}},
		{"junk after value", "tags.a = 'x' 'y'", []string{"expected AND", "position 14"}},
		{"nul", "tags.a = 'x\x00'", []string{"NUL"}},
		{"invalid utf-8", "tags.a = '\xff'", []string{"UTF-8"}},
		{"non-ASCII plain key", "tags.é = 'x'", []string{"expected a key after 'tags.'", "quoted"}},
		{"position counts characters", `tags."é" = 'x' OR`, []string{"OR is not supported", "position 16"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseRunFilter(tt.filter)
			if f != nil {
				t.Errorf("ParseRunFilter(%q) = %#v, want nil with the error", tt.filter, f)
			}
			wantFilterInvalid(t, err, append(tt.fragments, "Invalid filter")...)
		})
	}
}

func TestParseRunFilterMessageIsBounded(t *testing.T) {
	long := "tags.x = '" + strings.Repeat("a", 5000)
	_, err := ParseRunFilter(long)
	wantFilterInvalid(t, err, "unterminated", "...")
	if n := len(ferry.ErrorMessage(err)); n > 400 {
		t.Errorf("message is %d bytes long, want it bounded", n)
	}
}

func TestParseExperimentFilter(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		want   Filter
	}{
		{"empty", "  ", nil},
		{"bare name", "name = 'x'", Filter{cmpStr(EntityAttribute, "name", "=", "x")}},
		{"attribute name like", "attribute.name LIKE 'x%'", Filter{cmpStr(EntityAttribute, "name", "LIKE", "x%")}},
		{"attributes name ilike", "attributes.name ilike '%X%'", Filter{cmpStr(EntityAttribute, "name", "ILIKE", "%X%")}},
		{"name !=", `name != "Default"`, Filter{cmpStr(EntityAttribute, "name", "!=", "Default")}},
		{"times", "creation_time > 100 and attribute.last_update_time <= 2e3", Filter{
			cmpNum(EntityAttribute, "creation_time", ">", 100), cmpNum(EntityAttribute, "last_update_time", "<=", 2000),
		}},
		{"tags", "tags.team = 'a' and tag.`x y` != 'b' and tags.k LIKE 'c%' and tags.\"q\" ILIKE 'd'", Filter{
			cmpStr(EntityTag, "team", "=", "a"), cmpStr(EntityTag, "x y", "!=", "b"), cmpStr(EntityTag, "k", "LIKE", "c%"), cmpStr(EntityTag, "q", "ILIKE", "d"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExperimentFilter(tt.filter)
			if err != nil {
				t.Fatalf("ParseExperimentFilter(%q): %v", tt.filter, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseExperimentFilter(%q)\n got %#v\nwant %#v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestParseExperimentFilterErrors(t *testing.T) {
	tests := []struct {
		name      string
		filter    string
		fragments []string
	}{
		{"metrics entity", "metrics.a > 1", []string{"unknown entity type 'metrics'", "attributes or tags"}},
		{"run attribute", "status = 'x'", []string{"unknown attribute 'status'", "creation_time, last_update_time, name"}},
		{"experiment_id", "experiment_id = '1'", []string{"unknown attribute 'experiment_id'"}},
		{"name numeric op", "name > 'a'", []string{"operator > is not valid for attribute 'name'"}},
		{"name in", "name IN ('a')", []string{"operator IN is not valid"}},
		{"time string", "creation_time = '1'", []string{"expected a number for attribute 'creation_time'"}},
		{"tag is null", "tags.x IS NULL", []string{"operator IS NULL is not valid for tag 'x'"}},
		{"or", "name = 'a' or name = 'b'", []string{"OR is not supported"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseExperimentFilter(tt.filter)
			wantFilterInvalid(t, err, append(tt.fragments, "Invalid filter")...)
		})
	}
}

func TestParseRunOrderBy(t *testing.T) {
	tests := []struct {
		name string
		list []string
		want []OrderBy
	}{
		{"none", nil, nil},
		{"metric desc", []string{"metrics.acc DESC"}, []OrderBy{{EntityMetric, "acc", false}}},
		{"attribute default asc", []string{"attributes.start_time"}, []OrderBy{{EntityAttribute, "start_time", true}}},
		{"param asc lower case", []string{"params.lr asc"}, []OrderBy{{EntityParam, "lr", true}}},
		{"tag backtick key", []string{"tags.`x y`"}, []OrderBy{{EntityTag, "x y", true}}},
		{"tag dotted key desc", []string{"tags.mlflow.runName desc"}, []OrderBy{{EntityTag, "mlflow.runName", false}}},
		{"created alias", []string{"created DESC"}, []OrderBy{{EntityAttribute, "start_time", false}}},
		{"bare attributes", []string{"run_name", "run_id", "status", "user_id", "artifact_uri", "experiment_id", "end_time"}, []OrderBy{
			{EntityAttribute, "run_name", true}, {EntityAttribute, "run_id", true}, {EntityAttribute, "status", true},
			{EntityAttribute, "user_id", true}, {EntityAttribute, "artifact_uri", true}, {EntityAttribute, "experiment_id", true},
			{EntityAttribute, "end_time", true},
		}},
		{"quoted metric with spaces around", []string{`  metrics."my metric"   DESC  `}, []OrderBy{{EntityMetric, "my metric", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRunOrderBy(tt.list)
			if err != nil {
				t.Fatalf("ParseRunOrderBy(%q): %v", tt.list, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseRunOrderBy(%q)\n got %#v\nwant %#v", tt.list, got, tt.want)
			}
		})
	}
}

func TestParseOrderByErrors(t *testing.T) {
	tests := []struct {
		name      string
		parse     func([]string) ([]OrderBy, error)
		item      string
		fragments []string
	}{
		{"empty", ParseRunOrderBy, "", []string{"expected an identifier"}},
		{"unknown attribute", ParseRunOrderBy, "attributes.foo", []string{"cannot order by attribute 'foo'", "experiment_id", "start_time"}},
		{"dataset", ParseRunOrderBy, "dataset.name", []string{"cannot order by dataset 'name'"}},
		{"bad direction", ParseRunOrderBy, "metrics.acc DOWN", []string{"expected ASC, DESC", "'DOWN'"}},
		{"extra token", ParseRunOrderBy, "metrics.acc DESC x", []string{"expected the end of the clause", "'x'"}},
		{"unknown entity", ParseRunOrderBy, "foo.bar", []string{"unknown entity type 'foo'"}},
		{"experiment tag", ParseExperimentOrderBy, "tags.x", []string{"cannot order by tag 'x'"}},
		{"experiment run attribute", ParseExperimentOrderBy, "start_time", []string{"cannot order by attribute 'start_time'", "creation_time, experiment_id, last_update_time, name"}},
		{"experiment metric", ParseExperimentOrderBy, "metrics.a", []string{"unknown entity type 'metrics'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.parse([]string{tt.item})
			if got != nil {
				t.Errorf("got %#v, want nil with the error", got)
			}
			wantFilterInvalid(t, err, append(tt.fragments, "Invalid order_by clause")...)
		})
	}
}

func TestParseExperimentOrderBy(t *testing.T) {
	got, err := ParseExperimentOrderBy([]string{"name", "attribute.experiment_id DESC", "creation_time desc", "attributes.last_update_time ASC"})
	if err != nil {
		t.Fatal(err)
	}
	want := []OrderBy{
		{EntityAttribute, "name", true}, {EntityAttribute, "experiment_id", false},
		{EntityAttribute, "creation_time", false}, {EntityAttribute, "last_update_time", true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestParseViewType(t *testing.T) {
	tests := []struct {
		in   string
		want ViewType
	}{
		{"", ViewActiveOnly}, {"ACTIVE_ONLY", ViewActiveOnly}, {"active_only", ViewActiveOnly}, {"1", ViewActiveOnly},
		{"DELETED_ONLY", ViewDeletedOnly}, {"Deleted_Only", ViewDeletedOnly}, {"2", ViewDeletedOnly},
		{"ALL", ViewAll}, {"all", ViewAll}, {"3", ViewAll},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseViewType(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseViewType(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
	for _, in := range []string{"0", "4", "ACTIVE", "deleted", "ALL_"} {
		t.Run("invalid "+in, func(t *testing.T) {
			_, err := ParseViewType(in)
			wantFilterInvalid(t, err, "Invalid view type '"+in+"'", "ACTIVE_ONLY, DELETED_ONLY or ALL")
		})
	}
}

// filterValidOps are the operators Comparison documents.
var filterValidOps = []string{"=", "!=", ">", ">=", "<", "<=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"}

// checkParsedFilter asserts the contract of a filter parser on any input: no
// panic (the fuzzer catches those), EINVALID errors, and well-formed terms.
func checkParsedFilter(t *testing.T, s string, f Filter, err error) {
	if err != nil {
		var fe *ferry.Error
		if !errors.As(err, &fe) || fe.Code != ferry.EINVALID || fe.Message == "" {
			t.Fatalf("parse(%q) error %v, want a *ferry.Error with code EINVALID", s, err)
		}
		if f != nil {
			t.Fatalf("parse(%q) returned %v with an error", s, f)
		}
		return
	}
	if strings.TrimSpace(s) == "" && f != nil {
		t.Fatalf("parse(%q) = %v, want an empty filter", s, f)
	}
	for _, c := range f {
		switch {
		case c.Key == "":
			t.Fatalf("parse(%q): empty key in %#v", s, c)
		case !slices.Contains(filterValidOps, c.Op):
			t.Fatalf("parse(%q): operator %q not documented", s, c.Op)
		case (c.Op == "IN" || c.Op == "NOT IN") != (len(c.Values) > 0):
			t.Fatalf("parse(%q): list operands and operator disagree in %#v", s, c)
		case c.IsNum && (math.IsNaN(c.Num) || math.IsInf(c.Num, 0)):
			t.Fatalf("parse(%q): non-finite number in %#v", s, c)
		case c.Entity == EntityMetric && !c.IsNum:
			t.Fatalf("parse(%q): metric without a number in %#v", s, c)
		}
	}
}

var filterFuzzSeeds = []string{
	"",
	"metrics.acc > 0.9 and params.lr = '0.1' and tags.x LIKE 'a%' and attributes.status = 'FINISHED'",
	"metrics.`my metric` >= -1.5e3 AND tags.\"mlflow.user\" IS NOT NULL",
	"attributes.run_id NOT IN ('a', \"b\") and dataset.context in ('train')",
	"tags.x = 'it''s' and params.y = 'a\\'b' and params.z IS NULL",
	"created < 5 and \"Run name\" ILIKE '%x%'",
	"name = 'x' and creation_time > 1 and tags.t != 'y'",
	"metrics.a > 1 OR metrics.b < 2",
	"metrics.a > 'x'",
	"params.`unterminated = 'x'",
	"attributes.run_id IN (",
	"tags.x IS NOT",
	"(metrics.a > 1)",
	"metrics.a <> 1e999",
	"tags.é = '\xff'",
}

func FuzzParseRunFilter(f *testing.F) {
	for _, s := range filterFuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseRunFilter(s)
		checkParsedFilter(t, s, got, err)
		if err == nil {
			for _, c := range got {
				if c.Entity == EntityAttribute && c.Key == "created" {
					t.Fatalf("ParseRunFilter(%q): alias 'created' not normalised", s)
				}
			}
		}
		_, err = ParseRunOrderBy([]string{s})
		checkParsedFilter(t, s, nil, err)
	})
}

func FuzzParseExperimentFilter(f *testing.F) {
	for _, s := range filterFuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseExperimentFilter(s)
		checkParsedFilter(t, s, got, err)
		for _, c := range got {
			if c.Entity != EntityAttribute && c.Entity != EntityTag {
				t.Fatalf("ParseExperimentFilter(%q): entity %q", s, c.Entity)
			}
		}
		_, err = ParseExperimentOrderBy([]string{s})
		checkParsedFilter(t, s, nil, err)
	})
}
