package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/httpapi"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
	"github.com/ferry-ml/ferry/internal/testbackend"
)

// testPolicy is the promotion policy of the registry tests: Staging needs a
// passing review check, Production and @champion an approval by another
// principal; other aliases need nothing.
const testPolicy = `
default:
  stages:
    Staging:    {checks: [review]}
    Production: {approval: true}
  aliases:
    champion:   {approval: true}
`

// newRegistryServer serves the API with a registry under policy ("" for no
// rules) over a real SQLite file and artifact directory.
func newRegistryServer(t *testing.T, policy string) *httptest.Server {
	t.Helper()
	var p *registry.Policy
	if policy != "" {
		var err error
		if p, err = registry.ParsePolicy([]byte(policy), "test"); err != nil {
			t.Fatal(err)
		}
	}
	b := testbackend.OpenWith(t, testbackend.Options{Synchronous: sqlite.SynchronousNormal, Policy: p, MaxRequestBytes: 1 << 20})
	srv := httptest.NewServer(b.API.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// answer is a decoded response.
type answer struct {
	status int
	body   map[string]any
	raw    string
}

// call sends a request acting as principal ("" sends no principal header);
// body is JSON-encoded unless it is a string, which is sent as is.
func call(t *testing.T, srv *httptest.Server, method, path, principal string, body any) answer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if principal != "" {
		req.Header.Set(httpapi.PrincipalHeader, principal)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, raw: string(raw)}
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// want fails unless a has status; for errors it also checks the code in
// MLflow's or Ferry's shape and that the message contains msg.
func (a answer) want(t *testing.T, status int, code, msg string) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.raw)
	}
	if code == "" {
		return a
	}
	gotCode, gotMsg := str(a.body, "error_code"), str(a.body, "message")
	if e, ok := a.body["error"].(map[string]any); ok {
		gotCode, gotMsg = str(e, "code"), str(e, "message")
	}
	if gotCode != code || !strings.Contains(gotMsg, msg) {
		t.Fatalf("error %s %q, want %s containing %q", gotCode, gotMsg, code, msg)
	}
	return a
}

func str(m map[string]any, key string) string { s, _ := m[key].(string); return s }

func obj(m map[string]any, key string) map[string]any { o, _ := m[key].(map[string]any); return o }

func list(m map[string]any, key string) []any { l, _ := m[key].([]any); return l }

// logRunWithPackage starts a run, logs the dataset as its input (with the
// digest cut to MLflow's 36 characters, as ferry train does), and uploads a
// Ferry model package (trained on it, seeded by seed so that packages
// differ) under its "model" artifact path through the artifact proxy. It
// returns the run ID.
func logRunWithPackage(t *testing.T, srv *httptest.Server, seed, datasetDigest string) string {
	t.Helper()
	run := call(t, srv, "POST", "/api/2.0/mlflow/runs/create", "", map[string]any{"experiment_id": "0"}).want(t, 200, "", "")
	info := obj(obj(run.body, "run"), "info")
	runID, root := str(info, "run_id"), str(info, "artifact_uri")
	call(t, srv, "POST", "/api/2.0/mlflow/runs/log-inputs", "", map[string]any{"run_id": runID, "datasets": []any{
		map[string]any{"dataset": map[string]any{"name": "churn-data", "digest": strings.TrimPrefix(datasetDigest, "sha256:")[:36], "source_type": "local", "source": "file:///data/churn.csv"}},
	}}).want(t, 200, "", "")

	dir := filepath.Join(t.TempDir(), "model")
	m := &model.Manifest{ArtifactPath: "model", RunID: runID, UTCTimeCreated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	m.SetFlavor(model.FerryFlavor{Trainer: "logistic", Data: "model.json"})
	info2 := model.FerryInfo{Task: model.TaskBinary, ClassLabels: []string{"stay", "churn"}, Lineage: model.Lineage{
		RunID: runID, GitCommit: "847e906c1d2b3a4f5e6d7c8b9a0f1e2d3c4b5a69", GitDirty: true,
		Datasets: []model.DatasetRef{{Name: "churn-data", Digest: datasetDigest}}, Trainer: "logistic",
	}}
	if _, err := model.Save(context.Background(), dir, m, info2, map[string]io.Reader{"model.json": strings.NewReader(`{"seed": "` + seed + `"}`)}); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimPrefix(strings.TrimPrefix(root, "mlflow-artifacts:"), "/")
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		call(t, srv, "PUT", "/api/2.0/mlflow-artifacts/artifacts/"+key+"/model/"+filepath.ToSlash(rel), "", string(data)).want(t, 200, "", "")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return runID
}

const (
	digestA = "sha256:3b5d5c3712955042212316173ccf37be800b8a6a1f3e6f5b5c6e0a1d2c3b4a59"
	digestB = "sha256:0000000000000000000000000000000000000000000000000000000000000001"
)

// TestRegistryMLflowPromotion drives MLflow's registry routes with a real
// package: registration from runs:/, the shapes of versions and models,
// the download URI, and promotions the policy blocks until a validation
// check and another principal's approval exist.
func TestRegistryMLflowPromotion(t *testing.T) {
	srv := newRegistryServer(t, testPolicy)
	const p = "/api/2.0/mlflow/"
	run1 := logRunWithPackage(t, srv, "1", digestA)

	call(t, srv, "POST", p+"registered-models/create", "ana", map[string]any{"name": "churn"}).want(t, 200, "", "")
	created := call(t, srv, "POST", p+"model-versions/create", "ana", map[string]any{
		"name": "churn", "source": "runs:/" + run1 + "/model", "run_id": run1, "description": "baseline",
	}).want(t, 200, "", "")
	mv := obj(created.body, "model_version")
	for k, want := range map[string]any{
		"name": "churn", "version": "1", "user_id": "ana", "current_stage": "None", "description": "baseline",
		"source": "runs:/" + run1 + "/model", "run_id": run1, "status": "READY", "status_message": nil, "run_link": "",
	} {
		if mv[k] != want {
			t.Errorf("model_version.%s = %#v, want %#v", k, mv[k], want)
		}
	}
	for _, k := range []string{"creation_timestamp", "last_updated_timestamp"} {
		if n, ok := mv[k].(float64); !ok || n < 1e12 {
			t.Errorf("model_version.%s = %#v, want a millisecond timestamp number", k, mv[k])
		}
	}
	// Without the model, MLflow's create-version is RESOURCE_DOES_NOT_EXIST.
	call(t, srv, "POST", p+"model-versions/create", "ana", map[string]any{"name": "other", "source": "runs:/" + run1 + "/model"}).
		want(t, 404, "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=other not found")

	// The download URI is the registry's own copy, byte for byte the package.
	uri := str(call(t, srv, "GET", p+"model-versions/get-download-uri?name=churn&version=1", "", nil).want(t, 200, "", "").body, "artifact_uri")
	key, ok := strings.CutPrefix(uri, "mlflow-artifacts:/registry/churn/")
	if !ok || len(key) != 64 {
		t.Fatalf("artifact_uri = %q", uri)
	}
	copyOf := call(t, srv, "GET", "/api/2.0/mlflow-artifacts/artifacts/registry/churn/"+key+"/model.json", "", nil).want(t, 200, "", "")
	if copyOf.raw != `{"seed": "1"}` {
		t.Fatalf("the registry's copy of model.json is %q", copyOf.raw)
	}

	tr := func(who, stage string) answer {
		return call(t, srv, "POST", p+"model-versions/transition-stage", who, map[string]any{
			"name": "churn", "version": "1", "stage": stage, "archive_existing_versions": false,
		})
	}
	// Staging needs a passing review check.
	tr("ana", "Staging").want(t, 403, "PERMISSION_DENIED", `the policy requires a passing "review" check, and there is none`)
	call(t, srv, "POST", "/api/v1/models/churn/versions/1/checks", "ci", map[string]any{"kind": "review", "verdict": "fail"}).want(t, 201, "", "")
	tr("ana", "Staging").want(t, 403, "PERMISSION_DENIED", `the latest one says "fail"`)
	call(t, srv, "POST", "/api/v1/models/churn/versions/1/checks", "ci", map[string]any{"kind": "review", "verdict": "pass", "details": map[string]any{"auc": 0.91}}).want(t, 201, "", "")
	staged := tr("ana", "Staging").want(t, 200, "", "")
	if got := str(obj(staged.body, "model_version"), "current_stage"); got != "Staging" {
		t.Fatalf("after transition: stage %q", got)
	}

	// Production needs another principal's approval: the first attempt files
	// a request; the requester cannot approve it; a reviewer can.
	tr("ana", "production").want(t, 403, "PERMISSION_DENIED", "ferry models approve churn 1 --to production")
	call(t, srv, "POST", "/api/v1/models/churn/versions/1/approve", "ana", map[string]any{"target": "Production"}).
		want(t, 403, "EFORBIDDEN", "ana requested this promotion and cannot approve it")
	dec := call(t, srv, "POST", "/api/v1/models/churn/versions/1/approve", "bo", map[string]any{"target": "production", "comment": "lgtm"}).want(t, 200, "", "")
	if r := obj(dec.body, "request"); r["status"] != "approved" || r["decided_by"] != "bo" || r["requested_by"] != "ana" || r["target"] != "Production" {
		t.Fatalf("decision: %s", dec.raw)
	}
	prod := tr("ana", "Production").want(t, 200, "", "")
	if got := str(obj(prod.body, "model_version"), "current_stage"); got != "Production" {
		t.Fatalf("after approval: stage %q", got)
	}

	// @champion needs an approval too, through MLflow's alias route.
	call(t, srv, "POST", p+"registered-models/alias", "ana", map[string]any{"name": "churn", "alias": "champion", "version": "1"}).
		want(t, 403, "PERMISSION_DENIED", "requires an approval")
	call(t, srv, "POST", "/api/v1/models/churn/versions/1/approve", "bo", map[string]any{"target": "@champion"}).want(t, 200, "", "")
	call(t, srv, "POST", p+"registered-models/alias", "ana", map[string]any{"name": "churn", "alias": "champion", "version": "1"}).want(t, 200, "", "")
	// Other aliases need nothing.
	call(t, srv, "POST", p+"registered-models/alias", "ana", map[string]any{"name": "churn", "alias": "challenger", "version": 1}).want(t, 200, "", "")

	got := call(t, srv, "GET", p+"registered-models/get?name=churn", "", nil).want(t, 200, "", "")
	rm := obj(got.body, "registered_model")
	aliases, _ := json.Marshal(rm["aliases"])
	if string(aliases) != `[{"alias":"challenger","version":"1"},{"alias":"champion","version":"1"}]` {
		t.Errorf("aliases = %s", aliases)
	}
	latest := list(rm, "latest_versions")
	if len(latest) != 1 || str(latest[0].(map[string]any), "current_stage") != "Production" {
		t.Errorf("latest_versions = %v", latest)
	}
	if v := obj(call(t, srv, "GET", p+"registered-models/alias?name=churn&alias=champion", "", nil).want(t, 200, "", "").body, "model_version"); v["version"] != "1" {
		t.Errorf("by alias: %v", v)
	}

	// The audit trail has every step, blocked ones included, with principals.
	hist := call(t, srv, "GET", "/api/v1/models/churn/history", "", nil).want(t, 200, "", "")
	var steps []string
	for _, e := range list(hist.body, "events") {
		ev := e.(map[string]any)
		steps = append(steps, str(ev, "principal")+":"+str(ev, "action")+":"+str(ev, "to"))
	}
	want := []string{
		"ana:create_model:churn", "ana:create_version:", "ana:promotion_blocked:Staging", "ci:record_check:review:fail",
		"ana:promotion_blocked:Staging", "ci:record_check:review:pass", "ana:transition_stage:Staging",
		"ana:request_promotion:Production", "ana:promotion_blocked:Production", "bo:approve:Production", "ana:transition_stage:Production",
		"ana:request_promotion:@champion", "bo:approve:@champion", "ana:set_alias:@champion", "ana:set_alias:@challenger",
	}
	if strings.Join(steps, "\n") != strings.Join(trimDigests(want, steps), "\n") {
		t.Errorf("history:\n  %s\nwant:\n  %s", strings.Join(steps, "\n  "), strings.Join(want, "\n  "))
	}

	// The same source again is a new version, as MLflow's register_model
	// makes it (issue 10.1).
	again := call(t, srv, "POST", p+"model-versions/create", "ana", map[string]any{"name": "churn", "source": "runs:/" + run1 + "/model"}).want(t, 200, "", "")
	if v := obj(again.body, "model_version"); v["version"] != "2" || v["source"] != "runs:/"+run1+"/model" || v["run_id"] != run1 {
		t.Fatalf("registered again: %s", again.raw)
	}
}

// trimDigests lets want's "ana:create_version:" match the event whose "to"
// is the package digest.
func trimDigests(want, got []string) []string {
	out := append([]string(nil), want...)
	for i := range out {
		if strings.HasSuffix(out[i], ":create_version:") && i < len(got) && strings.HasPrefix(got[i], out[i]+"sha256:") {
			out[i] = got[i]
		}
	}
	return out
}

// TestRegistryV1 drives every /api/v1 registry route.
func TestRegistryV1(t *testing.T) {
	srv := newRegistryServer(t, "")
	run1 := logRunWithPackage(t, srv, "1", digestA)
	run2 := logRunWithPackage(t, srv, "2", digestB)

	// Registering creates the model when absent.
	v1 := call(t, srv, "POST", "/api/v1/models/churn/versions", "ana", map[string]any{
		"source": "runs:/" + run1 + "/model", "description": "baseline", "tags": []any{map[string]any{"key": "k", "value": "v"}},
	}).want(t, 201, "", "")
	mv := obj(v1.body, "model_version")
	if mv["version"] != float64(1) || mv["user_id"] != "ana" || mv["run_id"] != run1 || mv["git_commit"] != "847e906c1d2b3a4f5e6d7c8b9a0f1e2d3c4b5a69" ||
		mv["git_dirty"] != true || !strings.HasPrefix(str(mv, "model_digest"), "sha256:") || !strings.HasPrefix(str(mv, "artifact_uri"), "mlflow-artifacts:/registry/churn/") {
		t.Fatalf("registered: %s", v1.raw)
	}
	call(t, srv, "POST", "/api/v1/models/churn/versions", "ana", map[string]any{"source": "runs:/" + run2 + "/model"}).want(t, 201, "", "")

	call(t, srv, "POST", "/api/v1/models", "ana", map[string]any{"name": "fraud", "description": "d"}).want(t, 201, "", "")
	call(t, srv, "POST", "/api/v1/models", "ana", map[string]any{"name": "fraud"}).want(t, 400, "ECONFLICT", "already exists")
	models := call(t, srv, "GET", "/api/v1/models?order_by=name+DESC", "", nil).want(t, 200, "", "")
	if l := list(models.body, "registered_models"); len(l) != 2 || str(l[0].(map[string]any), "name") != "fraud" {
		t.Fatalf("models: %s", models.raw)
	}
	empty := call(t, srv, "GET", "/api/v1/models?filter="+url.QueryEscape("name LIKE 'x%'"), "", nil).want(t, 200, "", "")
	if empty.raw != "{\"registered_models\":[]}\n" {
		t.Fatalf("no match: %q", empty.raw)
	}
	upd := call(t, srv, "PATCH", "/api/v1/models/fraud", "ana", map[string]any{"name": "fraud2", "description": "new"}).want(t, 200, "", "")
	if rm := obj(upd.body, "registered_model"); rm["name"] != "fraud2" || rm["description"] != "new" {
		t.Fatalf("update: %s", upd.raw)
	}
	call(t, srv, "DELETE", "/api/v1/models/fraud2", "ana", nil).want(t, 200, "", "")
	call(t, srv, "GET", "/api/v1/models/fraud2", "", nil).want(t, 404, "ENOTFOUND", "not found")

	vs := call(t, srv, "GET", "/api/v1/models/churn/versions", "", nil).want(t, 200, "", "")
	if l := list(vs.body, "model_versions"); len(l) != 2 {
		t.Fatalf("versions: %s", vs.raw)
	}
	call(t, srv, "GET", "/api/v1/models/churn/versions/2", "", nil).want(t, 200, "", "")

	// Promotion without a policy; archive_existing archives the stage's others.
	call(t, srv, "POST", "/api/v1/models/churn/versions/1/promote", "ana", map[string]any{"target": "staging", "reason": "first"}).want(t, 200, "", "")
	pr := call(t, srv, "POST", "/api/v1/models/churn/versions/2/promote", "ana", map[string]any{"target": "Staging", "archive_existing": true}).want(t, 200, "", "")
	if obj(pr.body, "model_version")["current_stage"] != "Staging" {
		t.Fatalf("promote: %s", pr.raw)
	}
	if v := obj(call(t, srv, "GET", "/api/v1/models/churn/versions/1", "", nil).body, "model_version"); v["current_stage"] != "Archived" {
		t.Fatalf("version 1 after archive_existing: %v", v)
	}
	// Promoting to an alias.
	call(t, srv, "POST", "/api/v1/models/churn/versions/1/promote", "ana", map[string]any{"target": "@champion"}).want(t, 200, "", "")
	al := call(t, srv, "PUT", "/api/v1/models/churn/aliases/challenger", "ana", map[string]any{"version": 2, "reason": "try it"}).want(t, 200, "", "")
	if a := list(obj(al.body, "model_version"), "aliases"); len(a) != 1 || a[0] != "challenger" {
		t.Fatalf("set alias: %s", al.raw)
	}
	m := call(t, srv, "GET", "/api/v1/models/churn", "", nil).want(t, 200, "", "")
	if a, _ := json.Marshal(obj(m.body, "registered_model")["aliases"]); string(a) != `{"challenger":2,"champion":1}` {
		t.Fatalf("aliases: %s", a)
	}

	for uri, want := range map[string]float64{
		"models:/churn/1": 1, "models:/churn@champion": 1, "models:/churn@challenger": 2, "models:/churn@latest": 2,
		"models:/churn/Staging": 2, "models:/churn/archived": 1,
	} {
		r := call(t, srv, "GET", "/api/v1/resolve?uri="+url.QueryEscape(uri), "", nil).want(t, 200, "", "")
		if got := obj(r.body, "model_version")["version"]; got != want {
			t.Errorf("resolve %s = %v, want %v", uri, got, want)
		}
	}
	call(t, srv, "DELETE", "/api/v1/models/churn/aliases/challenger", "ana", nil).want(t, 200, "", "")
	call(t, srv, "GET", "/api/v1/resolve?uri="+url.QueryEscape("models:/churn@challenger"), "", nil).want(t, 404, "ENOTFOUND", "challenger")

	// Requests and decisions are answered even without rules.
	call(t, srv, "POST", "/api/v1/models/churn/versions/2/reject", "bo", map[string]any{"target": "production"}).
		want(t, 404, "ENOTFOUND", "There is no pending request to move churn version 2 to Production")

	lin := call(t, srv, "GET", "/api/v1/models/churn/versions/1/lineage", "", nil).want(t, 200, "", "")
	if lin.body["git_commit"] != "847e906c1d2b3a4f5e6d7c8b9a0f1e2d3c4b5a69" || lin.body["git_dirty"] != true ||
		str(obj(obj(lin.body, "run"), "info"), "run_id") != run1 || obj(lin.body, "version")["version"] != float64(1) {
		t.Fatalf("lineage: %s", lin.raw)
	}
	if ds, _ := json.Marshal(lin.body["datasets"]); string(ds) != `[{"digest":"`+digestA+`","name":"churn-data","source":"file:///data/churn.csv"}]` {
		t.Fatalf("lineage datasets: %s", ds)
	}
	for q, want := range map[string]float64{"run_id=" + run2: 2, "dataset=" + url.QueryEscape(digestA): 1} {
		r := call(t, srv, "GET", "/api/v1/lineage?"+q, "", nil).want(t, 200, "", "")
		if l := list(r.body, "model_versions"); len(l) != 1 || l[0].(map[string]any)["version"] != want {
			t.Errorf("lineage?%s: %s", q, r.raw)
		}
	}

	call(t, srv, "DELETE", "/api/v1/models/churn/versions/2", "ana", nil).want(t, 200, "", "")
	call(t, srv, "GET", "/api/v1/models/churn/versions/2", "", nil).want(t, 404, "ENOTFOUND", "Model Version (name=churn, version=2) not found")

	hist := call(t, srv, "GET", "/api/v1/models/churn/history", "", nil).want(t, 200, "", "")
	var actions []string
	for _, e := range list(hist.body, "events") {
		actions = append(actions, str(e.(map[string]any), "action"))
	}
	want := "create_model create_version create_version transition_stage transition_stage transition_stage set_alias set_alias delete_alias delete_version"
	if strings.Join(actions, " ") != want {
		t.Errorf("history actions:\n  %s\nwant\n  %s", strings.Join(actions, " "), want)
	}

	// The same source again is a new version sharing the stored copy
	// (issue 10.1); a run ID prefix names the run (issue 10.3).
	again := call(t, srv, "POST", "/api/v1/models/churn/versions", "ana", map[string]any{"source": "runs:/" + run1[:8] + "/model"}).want(t, 201, "", "")
	if v := obj(again.body, "model_version"); v["version"] != float64(3) || v["source"] != "runs:/"+run1+"/model" || v["artifact_uri"] != mv["artifact_uri"] {
		t.Fatalf("registered again: %s", again.raw)
	}
}

// TestRegistryBadInput checks that mistakes are 4xx with a message, in
// each API's error shape, and never 5xx (call fails the test on a 5xx).
func TestRegistryBadInput(t *testing.T) {
	srv := newRegistryServer(t, testPolicy)
	run1 := logRunWithPackage(t, srv, "1", digestA)
	call(t, srv, "POST", "/api/v1/models/churn/versions", "ana", map[string]any{"source": "runs:/" + run1 + "/model"}).want(t, 201, "", "")
	const p = "/api/2.0/mlflow/"
	tests := []struct {
		name, method, path, principal string
		body                          any
		status                        int
		code, msg                     string
	}{
		{"unknown model", "GET", "/api/v1/models/nope", "", nil, 404, "ENOTFOUND", "Registered Model with name=nope not found"},
		{"unknown model's versions", "GET", "/api/v1/models/nope/versions", "", nil, 404, "ENOTFOUND", "nope"},
		{"unknown version", "GET", "/api/v1/models/churn/versions/7", "", nil, 404, "ENOTFOUND", "Model Version (name=churn, version=7) not found"},
		{"version abc", "GET", "/api/v1/models/churn/versions/abc", "", nil, 400, "EINVALID", `Invalid model version "abc"`},
		{"negative version", "POST", "/api/v1/models/churn/versions/-1/promote", "", map[string]any{"target": "staging"}, 404, "ENOTFOUND", `Model Version (name=churn, version=-1) not found`},
		{"version that is not a number", "POST", "/api/v1/models/churn/versions/one/promote", "", map[string]any{"target": "staging"}, 400, "EINVALID", `Invalid model version "one"`},
		{"unknown alias", "DELETE", "/api/v1/models/churn/aliases/nobody", "", nil, 404, "ENOTFOUND", "alias nobody not found"},
		{"alias latest", "PUT", "/api/v1/models/churn/aliases/latest", "", map[string]any{"version": 1}, 400, "EINVALID", "Alias name 'latest' is reserved"},
		{"alias without version", "PUT", "/api/v1/models/churn/aliases/shadow", "", map[string]any{}, 400, "EINVALID", "'version'"},
		{"alias to an unknown version", "PUT", "/api/v1/models/churn/aliases/shadow", "", map[string]any{"version": 9}, 404, "ENOTFOUND", "version=9"},
		{"promote to nowhere", "POST", "/api/v1/models/churn/versions/1/promote", "", map[string]any{"target": "the moon"}, 400, "EINVALID", "neither a stage"},
		{"promote without target", "POST", "/api/v1/models/churn/versions/1/promote", "", map[string]any{}, 400, "EINVALID", "'target'"},
		{"promote blocked", "POST", "/api/v1/models/churn/versions/1/promote", "ana", map[string]any{"target": "production"}, 403, "EFORBIDDEN", "requires an approval"},
		{"check with a bad verdict", "POST", "/api/v1/models/churn/versions/1/checks", "", map[string]any{"kind": "validation", "verdict": "maybe"}, 400, "EINVALID", "pass or fail"},
		{"malformed JSON", "POST", "/api/v1/models", "", `{"name": `, 400, "EINVALID", "Malformed JSON"},
		{"malformed JSON, MLflow", "POST", p + "registered-models/create", "", `{"name": `, 400, "INVALID_PARAMETER_VALUE", "Malformed JSON"},
		{"version of the wrong type", "PUT", "/api/v1/models/churn/aliases/shadow", "", `{"version": true}`, 400, "EINVALID", "Invalid integer true"},
		{"runs:/ with a run ID prefix too short", "POST", p + "model-versions/create", "", map[string]any{"name": "churn", "source": "runs:/" + run1[:7] + "/model"}, 400, "INVALID_PARAMETER_VALUE", "at least 8 characters"},
		{"source not on this server", "POST", "/api/v1/models/churn/versions", "", map[string]any{"source": "/tmp/model"}, 400, "EINVALID", "not supported"},
		{"source that escapes", "POST", "/api/v1/models/churn/versions", "", map[string]any{"source": "mlflow-artifacts:/../../etc"}, 400, "EINVALID", ""},
		{"source without a run", "POST", "/api/v1/models/churn/versions", "", map[string]any{"source": "runs:/"}, 404, "ENOTFOUND", ""},
		{"resolve a run URI", "GET", "/api/v1/resolve?uri=runs:/x/model", "", nil, 400, "EINVALID", "want models:/name/version"},
		{"resolve without uri", "GET", "/api/v1/resolve", "", nil, 400, "EINVALID", "'uri'"},
		{"resolve a bad reference", "GET", "/api/v1/resolve?uri=models:/churn/best", "", nil, 400, "EINVALID", "neither a version number nor a stage"},
		{"lineage without a key", "GET", "/api/v1/lineage", "", nil, 400, "EINVALID", "run_id"},
		{"history of unknown", "GET", "/api/v1/models/nope/history", "", nil, 404, "ENOTFOUND", "nope"},
		{"approve without a request", "POST", "/api/v1/models/churn/versions/1/approve", "bo", map[string]any{"target": "staging"}, 404, "ENOTFOUND", "no pending request"},
		{"bad principal", "POST", "/api/v1/models", strings.Repeat("a", 300), map[string]any{"name": "x"}, 400, "EINVALID", "X-Ferry-Principal"},
		{"too many models per page", "GET", "/api/v1/models?max_results=1001", "", nil, 400, "EINVALID", "at most 1000"},
		{"bad page token", "GET", "/api/v1/models?page_token=zzz", "", nil, 400, "EINVALID", ""},
		{"MLflow version abc", "GET", p + "model-versions/get?name=churn&version=abc", "", nil, 400, "INVALID_PARAMETER_VALUE", `Invalid model version "abc"`},
		{"MLflow unknown alias", "GET", p + "registered-models/alias?name=churn&alias=nobody", "", nil, 404, "RESOURCE_DOES_NOT_EXIST", "alias nobody not found"},
		{"MLflow alias latest", "POST", p + "registered-models/alias", "", map[string]any{"name": "churn", "alias": "latest", "version": "1"}, 400, "INVALID_PARAMETER_VALUE", "reserved"},
		{"MLflow transition blocked", "POST", p + "model-versions/transition-stage", "", map[string]any{"name": "churn", "version": "1", "stage": "Staging", "archive_existing_versions": false}, 403, "PERMISSION_DENIED", `"review" check`},
		{"MLflow archive flag of the wrong type", "POST", p + "model-versions/transition-stage", "", `{"name": "churn", "version": "1", "stage": "None", "archive_existing_versions": "yes"}`, 400, "INVALID_PARAMETER_VALUE", "archive_existing_versions"},
		{"MLflow max_results not a number", "GET", p + "registered-models/search?max_results=ten", "", nil, 400, "INVALID_PARAMETER_VALUE", "ten"},
		{"MLflow too many versions per page", "GET", p + "model-versions/search?max_results=300000", "", nil, 400, "INVALID_PARAMETER_VALUE", "at most 200000"},
		{"MLflow order by an unknown key", "GET", p + "model-versions/search?order_by=size", "", nil, 400, "INVALID_PARAMETER_VALUE", "order by name, version_number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call(t, srv, tt.method, tt.path, tt.principal, tt.body).want(t, tt.status, tt.code, tt.msg)
		})
	}
}

// TestRegistryAbsent checks a server built without a registry: the MLflow
// registry routes are not served and the /api/v1 ones say so.
func TestRegistryAbsent(t *testing.T) {
	b := testbackend.Open(t, sqlite.SynchronousNormal)
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Tracking: b.Tracking, Artifacts: b.Artifacts}).Handler())
	t.Cleanup(srv.Close)
	call(t, srv, "GET", "/api/v1/models", "", nil).want(t, 404, "ENOTFOUND", "no model registry")
	call(t, srv, "GET", "/api/2.0/mlflow/registered-models/search", "", nil).want(t, 404, "RESOURCE_DOES_NOT_EXIST", "No route")
}
