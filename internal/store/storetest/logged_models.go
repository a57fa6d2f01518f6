package storetest

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/tracking"
)

func testLoggedModels(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	run, err := s.CreateRun(ctx, tracking.RunCreate{ExperimentID: "0"})
	must(t, err)
	m, err := s.CreateLoggedModel(ctx, tracking.LoggedModelCreate{
		ExperimentID: "0", Name: "model", ModelType: "Classifier", SourceRunID: run.Info.RunID,
		Params: []tracking.Param{{Key: "alpha", Value: "0.5"}}, Tags: []tracking.Tag{{Key: "team", Value: "fraud"}},
	})
	must(t, err)
	if !strings.HasPrefix(m.ID, tracking.LoggedModelIDPrefix) || len(m.ID) != 34 {
		t.Errorf("model ID %q, want m- and 32 hex digits", m.ID)
	}
	exp, err := s.GetExperiment(ctx, "0")
	must(t, err)
	if want := exp.ArtifactLocation + "/models/" + m.ID + "/artifacts"; m.ArtifactLocation != want {
		t.Errorf("artifact location %q, want %q", m.ArtifactLocation, want)
	}
	if m.Status != tracking.LoggedModelPending || m.Name != "model" || m.ModelType != "Classifier" || m.SourceRunID != run.Info.RunID || m.ExperimentID != "0" {
		t.Errorf("created %+v", m)
	}
	if len(m.Params) != 1 || m.Params[0].Value != "0.5" || len(m.Tags) != 1 || m.Tags[0].Value != "fraud" {
		t.Errorf("params %v tags %v", m.Params, m.Tags)
	}
	if m.CreationTime == 0 || m.LastUpdatedTime != m.CreationTime {
		t.Errorf("times %d %d", m.CreationTime, m.LastUpdatedTime)
	}

	got, err := s.FinalizeLoggedModel(ctx, m.ID, "LOGGED_MODEL_READY")
	must(t, err)
	if got.Status != tracking.LoggedModelReady || got.LastUpdatedTime <= m.LastUpdatedTime {
		t.Errorf("finalized %+v", got)
	}
	got, err = s.FinalizeLoggedModel(ctx, m.ID, "3") // the proto number of UPLOAD_FAILED
	must(t, err)
	if got.Status != tracking.LoggedModelUploadFailed {
		t.Errorf("status %q", got.Status)
	}

	unnamed, err := s.CreateLoggedModel(ctx, tracking.LoggedModelCreate{ExperimentID: "0"})
	must(t, err)
	if unnamed.Name == "" || unnamed.SourceRunID != "" {
		t.Errorf("unnamed model %+v", unnamed)
	}

	tests := []struct {
		name string
		err  func() error
		code string
	}{
		{"unknown experiment", func() error {
			_, err := s.CreateLoggedModel(ctx, tracking.LoggedModelCreate{ExperimentID: "999"})
			return err
		}, ferry.ENOTFOUND},
		{"missing experiment", func() error {
			_, err := s.CreateLoggedModel(ctx, tracking.LoggedModelCreate{})
			return err
		}, ferry.EINVALID},
		{"unknown source run", func() error {
			_, err := s.CreateLoggedModel(ctx, tracking.LoggedModelCreate{ExperimentID: "0", SourceRunID: "nope"})
			return err
		}, ferry.ENOTFOUND},
		{"unknown model", func() error { _, err := s.GetLoggedModel(ctx, "m-0000"); return err }, ferry.ENOTFOUND},
		{"bad status", func() error { _, err := s.FinalizeLoggedModel(ctx, m.ID, "DONE"); return err }, ferry.EINVALID},
		{"finalize as pending", func() error { _, err := s.FinalizeLoggedModel(ctx, m.ID, "LOGGED_MODEL_PENDING"); return err }, ferry.EINVALID},
		{"finalize unknown", func() error { _, err := s.FinalizeLoggedModel(ctx, "m-0000", "LOGGED_MODEL_READY"); return err }, ferry.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.err(), tt.code) })
	}

	must(t, s.DeleteLoggedModel(ctx, m.ID))
	_, err = s.GetLoggedModel(ctx, m.ID)
	wantCode(t, err, ferry.ENOTFOUND)
	wantCode(t, s.DeleteLoggedModel(ctx, m.ID), ferry.ENOTFOUND)
	_, err = s.SetLoggedModelTags(ctx, m.ID, []tracking.Tag{{Key: "a", Value: "b"}})
	wantCode(t, err, ferry.ENOTFOUND)
}

func testLoggedModelTagsAndParams(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	m, err := s.CreateLoggedModel(ctx, tracking.LoggedModelCreate{ExperimentID: "0", Tags: []tracking.Tag{{Key: "a", Value: "1"}}})
	must(t, err)
	got, err := s.SetLoggedModelTags(ctx, m.ID, []tracking.Tag{{Key: "a", Value: "2"}, {Key: "b", Value: "3"}})
	must(t, err)
	if len(got.Tags) != 2 || got.Tags[0] != (tracking.Tag{Key: "a", Value: "2"}) || got.Tags[1] != (tracking.Tag{Key: "b", Value: "3"}) {
		t.Errorf("tags %v", got.Tags)
	}
	must(t, s.DeleteLoggedModelTag(ctx, m.ID, "a"))
	wantCode(t, s.DeleteLoggedModelTag(ctx, m.ID, "a"), ferry.ENOTFOUND)
	_, err = s.SetLoggedModelTags(ctx, m.ID, []tracking.Tag{{Key: "../x", Value: "1"}})
	wantCode(t, err, ferry.EINVALID)

	must(t, s.LogLoggedModelParams(ctx, m.ID, []tracking.Param{{Key: "lr", Value: "0.1"}, {Key: "depth", Value: "6"}}))
	must(t, s.LogLoggedModelParams(ctx, m.ID, []tracking.Param{{Key: "lr", Value: "0.1"}})) // same value again
	wantCode(t, s.LogLoggedModelParams(ctx, m.ID, []tracking.Param{{Key: "lr", Value: "0.2"}}), ferry.EINVALID)
	wantCode(t, s.LogLoggedModelParams(ctx, "m-missing", []tracking.Param{{Key: "lr", Value: "0.2"}}), ferry.ENOTFOUND)
	got, err = s.GetLoggedModel(ctx, m.ID)
	must(t, err)
	if len(got.Params) != 2 || got.Params[0].Key != "depth" || got.Params[1] != (tracking.Param{Key: "lr", Value: "0.1"}) {
		t.Errorf("params %v", got.Params)
	}
	if len(got.Tags) != 1 || got.Tags[0].Key != "b" {
		t.Errorf("tags %v", got.Tags)
	}
}

func testSearchLoggedModels(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	expID, err := s.CreateExperiment(ctx, "other", "", nil)
	must(t, err)
	run, err := s.CreateRun(ctx, tracking.RunCreate{ExperimentID: "0"})
	must(t, err)
	mk := func(exp, name, runID, typ string, params ...tracking.Param) tracking.LoggedModel {
		m, err := s.CreateLoggedModel(ctx, tracking.LoggedModelCreate{ExperimentID: exp, Name: name, SourceRunID: runID, ModelType: typ, Params: params})
		must(t, err)
		return m
	}
	a := mk("0", "model", run.Info.RunID, "Classifier", tracking.Param{Key: "alpha", Value: "1"})
	b := mk("0", "other", run.Info.RunID, "Regressor")
	c := mk("0", "model", "", "Classifier", tracking.Param{Key: "alpha", Value: "2"})
	d := mk(expID, "model", "", "")
	_, err = s.FinalizeLoggedModel(ctx, b.ID, tracking.LoggedModelReady)
	must(t, err)
	deleted := mk("0", "model", run.Info.RunID, "")
	must(t, s.DeleteLoggedModel(ctx, deleted.ID))

	ids := func(ms []tracking.LoggedModel) string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return strings.Join(out, ",")
	}
	join := func(ms ...tracking.LoggedModel) string { return ids(ms) }
	asc := func(key string) []tracking.OrderBy {
		ob, err := tracking.ParseLoggedModelOrderBy(key, true)
		must(t, err)
		return []tracking.OrderBy{ob}
	}
	tests := []struct {
		name string
		req  tracking.LoggedModelSearch
		want string
	}{
		{"newest first", tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}}, join(c, b, a)},
		{"two experiments", tracking.LoggedModelSearch{ExperimentIDs: []string{"0", expID}}, join(d, c, b, a)},
		{"by run and name, as register_model looks up runs:/RUN/model", tracking.LoggedModelSearch{ExperimentIDs: []string{"0"},
			Filter: "source_run_id = '" + run.Info.RunID + "' AND name = 'model'"}, join(a)},
		{"by status", tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}, Filter: "status = 'LOGGED_MODEL_READY'"}, join(b)},
		{"by param", tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}, Filter: "params.alpha = '2'"}, join(c)},
		{"by model type LIKE", tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}, Filter: "attributes.model_type LIKE 'Class%'"}, join(c, a)},
		{"by creation time", tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}, Filter: "creation_timestamp > " + itoa(b.CreationTime)}, join(c)},
		{"order by name", tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}, OrderBy: asc("name")}, join(c, a, b)},
		{"order oldest first", tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}, OrderBy: asc("creation_timestamp")}, join(a, b, c)},
		{"unknown experiment", tracking.LoggedModelSearch{ExperimentIDs: []string{"424242"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next, err := s.SearchLoggedModels(ctx, tt.req)
			must(t, err)
			if ids(got) != tt.want || next != "" {
				t.Errorf("got %s (next %q), want %s", ids(got), next, tt.want)
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		page1, next, err := s.SearchLoggedModels(ctx, tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}, MaxResults: 2})
		must(t, err)
		page2, last, err := s.SearchLoggedModels(ctx, tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}, MaxResults: 2, PageToken: next})
		must(t, err)
		if ids(page1) != join(c, b) || ids(page2) != join(a) || next == "" || last != "" {
			t.Errorf("pages %s | %s (%q, %q)", ids(page1), ids(page2), next, last)
		}
	})

	bad := []struct {
		name string
		req  tracking.LoggedModelSearch
	}{
		{"no experiment", tracking.LoggedModelSearch{}},
		{"bad filter", tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}, Filter: "name =="}},
		{"metrics", tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}, Filter: "metrics.acc > 1"}},
		{"too many", tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}, MaxResults: 51}},
		{"bad token", tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}, PageToken: "%%%"}},
		{"bad order", tracking.LoggedModelSearch{ExperimentIDs: []string{"0"}, OrderBy: []tracking.OrderBy{{Entity: tracking.EntityParam, Key: "alpha"}}}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.SearchLoggedModels(ctx, tt.req)
			wantCode(t, err, ferry.EINVALID)
		})
	}
}

func testLogOutputs(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	run, err := s.CreateRun(ctx, tracking.RunCreate{ExperimentID: "0"})
	must(t, err)
	m, err := s.CreateLoggedModel(ctx, tracking.LoggedModelCreate{ExperimentID: "0", SourceRunID: run.Info.RunID})
	must(t, err)
	must(t, s.LogOutputs(ctx, run.Info.RunID, []tracking.ModelOutput{{ModelID: m.ID, Step: 3}}))
	must(t, s.LogOutputs(ctx, run.Info.RunID, []tracking.ModelOutput{{ModelID: m.ID, Step: 4}})) // kept at step 3
	got, err := s.GetRun(ctx, run.Info.RunID)
	must(t, err)
	if len(got.Outputs) != 1 || got.Outputs[0] != (tracking.ModelOutput{ModelID: m.ID, Step: 3}) {
		t.Errorf("outputs %v", got.Outputs)
	}
	wantCode(t, s.LogOutputs(ctx, run.Info.RunID, []tracking.ModelOutput{{ModelID: "m-missing"}}), ferry.ENOTFOUND)
	wantCode(t, s.LogOutputs(ctx, "no-such-run", []tracking.ModelOutput{{ModelID: m.ID}}), ferry.ENOTFOUND)
	wantCode(t, s.LogOutputs(ctx, "", nil), ferry.EINVALID)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
