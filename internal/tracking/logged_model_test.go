package tracking

import (
	"reflect"
	"testing"
)

func TestParseLoggedModelFilter(t *testing.T) {
	tests := []struct {
		name, in string
		want     Filter
	}{
		{"run and name, as MLflow 3's register_model asks", "source_run_id='abc' AND name='model'",
			Filter{cmpStr(EntityAttribute, "source_run_id", "=", "abc"), cmpStr(EntityAttribute, "name", "=", "model")}},
		{"alias of creation time", "attributes.creation_time > 5", Filter{cmpNum(EntityAttribute, "creation_timestamp", ">", 5)}},
		{"params and tags", "params.alpha = '1' and tags.team LIKE 'f%'",
			Filter{cmpStr(EntityParam, "alpha", "=", "1"), cmpStr(EntityTag, "team", "LIKE", "f%")}},
		{"ids in a list", "model_id IN ('m-1', 'm-2')", Filter{cmpList(EntityAttribute, "model_id", "IN", "m-1", "m-2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLoggedModelFilter(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	for _, in := range []string{"metrics.acc > 1", "run_id = 'x'", "name > 'a'"} {
		t.Run("refuses "+in, func(t *testing.T) {
			_, err := ParseLoggedModelFilter(in)
			wantFilterInvalid(t, err)
		})
	}
}

func TestParseLoggedModelStatus(t *testing.T) {
	tests := []struct{ in, want string }{
		{"LOGGED_MODEL_READY", LoggedModelReady}, {"2", LoggedModelReady}, {"logged_model_upload_failed", LoggedModelUploadFailed},
		{"3", LoggedModelUploadFailed}, {"1", LoggedModelPending},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLoggedModelStatus(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	for _, in := range []string{"", "READY", "0", "4"} {
		t.Run("refuses "+in, func(t *testing.T) {
			_, err := ParseLoggedModelStatus(in)
			wantFilterInvalid(t, err, "LOGGED_MODEL_READY")
		})
	}
}
