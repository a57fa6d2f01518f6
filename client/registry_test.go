package client_test

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
	"github.com/ferry-ml/ferry/internal/testbackend"
)

// newRegistryClient serves a registry under policy and returns a client
// acting for "ana".
func newRegistryClient(t *testing.T, policy string) *client.Client {
	t.Helper()
	p, err := registry.ParsePolicy([]byte(policy), "test")
	if err != nil {
		t.Fatal(err)
	}
	b := testbackend.OpenWith(t, testbackend.Options{Synchronous: sqlite.SynchronousNormal, Policy: p})
	srv := httptest.NewServer(b.API.Handler())
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.WithPrincipal("ana"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// logPackage logs a run with a small Ferry model package under "model".
func logPackage(t *testing.T, c *client.Client, seed string) *client.ActiveRun {
	t.Helper()
	ctx := context.Background()
	run, err := c.StartRun(ctx, "registry", client.RunOptions{Name: "train-" + seed})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	m := &model.Manifest{ArtifactPath: "model", RunID: run.ID(), UTCTimeCreated: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m.SetFlavor(model.FerryFlavor{Trainer: "linear", Data: "model.json"})
	info := model.FerryInfo{Task: model.TaskRegression, Lineage: model.Lineage{
		RunID: run.ID(), GitCommit: "abc123", Datasets: []model.DatasetRef{{Name: "houses", Digest: "sha256:" + strings.Repeat("ab", 32)}},
	}}
	if _, err := model.Save(ctx, dir, m, info, map[string]io.Reader{"model.json": strings.NewReader(`{"seed":"` + seed + `"}`)}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := run.LogArtifact(ctx, filepath.Join(dir, e.Name()), "model/"+e.Name()); err != nil {
			t.Fatal(err)
		}
	}
	if err := run.End(ctx, client.StatusFinished); err != nil {
		t.Fatal(err)
	}
	return run
}

func TestRegistryClient(t *testing.T) {
	ctx := context.Background()
	c := newRegistryClient(t, "default: {stages: {Production: {approval: true}}}")
	run := logPackage(t, c, "1")

	v, err := c.RegisterVersion(ctx, "prices", client.VersionSource{Source: "runs:/" + run.ID() + "/model", Description: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != 1 || v.UserID != "ana" || v.RunID != run.ID() || v.GitCommit != "abc123" || v.URI() != "models:/prices/1" || v.CurrentStage != client.StageNone {
		t.Fatalf("registered %+v", v)
	}
	if again, err := c.RegisterVersion(ctx, "prices", client.VersionSource{Source: "runs:/" + run.ID() + "/model"}); err != nil || again.Version != 2 {
		t.Fatalf("registering twice: %+v, %v; want version 2", again, err)
	}

	// The policy blocks Production until someone else approves.
	_, err = c.Promote(ctx, "prices", 1, "production", client.Promotion{Reason: "good"})
	if !client.IsForbidden(err) || !strings.Contains(err.Error(), "ferry models approve prices 1 --to production") {
		t.Fatalf("blocked promote: %v", err)
	}
	if _, err := c.Approve(ctx, "prices", 1, "production", ""); !client.IsForbidden(err) {
		t.Fatalf("self-approval: %v", err)
	}
	req, err := c.As("bo").Approve(ctx, "prices", 1, "production", "ok")
	if err != nil || req.Status != "approved" || req.DecidedBy != "bo" || req.RequestedBy != "ana" {
		t.Fatalf("approve: %+v %v", req, err)
	}
	if v, err = c.Promote(ctx, "prices", 1, "production", client.Promotion{Reason: "good"}); err != nil || v.CurrentStage != client.StageProduction {
		t.Fatalf("promote after approval: %+v %v", v, err)
	}

	if _, err := c.SetAlias(ctx, "prices", "champion", 1, "best so far"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Resolve(ctx, "models:/prices@champion"); err != nil || got.Version != 1 {
		t.Fatalf("resolve: %+v %v", got, err)
	}
	m, err := c.GetModel(ctx, "prices")
	if err != nil || m.Aliases["champion"] != 1 || len(m.LatestVersions) != 2 {
		t.Fatalf("model: %+v %v", m, err)
	}
	chk, err := c.RecordCheck(ctx, "prices", 1, "validation", "pass", map[string]float64{"rmse": 1.5})
	if err != nil || string(chk.Details) != `{"rmse":1.5}` || chk.CreatedBy != "ana" {
		t.Fatalf("check: %+v %v", chk, err)
	}
	lin, err := c.Lineage(ctx, "prices", 1)
	if err != nil || lin.Run == nil || lin.Run.Info.RunID != run.ID() || len(lin.Datasets) != 1 {
		t.Fatalf("lineage: %+v %v", lin, err)
	}
	from, err := c.VersionsFrom(ctx, run.ID(), "")
	if err != nil || len(from) != 2 {
		t.Fatalf("versions from run: %+v %v", from, err)
	}
	vs, err := c.ListVersions(ctx, "prices")
	if err != nil || len(vs) != 2 {
		t.Fatalf("versions: %+v %v", vs, err)
	}
	models, _, err := c.ListModels(ctx, client.ModelQuery{Filter: "name LIKE 'pri%'"})
	if err != nil || len(models) != 1 {
		t.Fatalf("models: %+v %v", models, err)
	}
	if err := c.DeleteAlias(ctx, "prices", "champion"); err != nil {
		t.Fatal(err)
	}
	desc := "house prices"
	if m, err = c.UpdateModel(ctx, "prices", client.ModelUpdate{Description: &desc}); err != nil || m.Description != desc {
		t.Fatalf("update: %+v %v", m, err)
	}
	events, err := c.History(ctx, "prices")
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, e := range events {
		who = append(who, e.Principal+" "+e.Action)
	}
	want := "ana create_model,ana create_version,ana create_version,ana request_promotion,ana promotion_blocked,bo approve,ana transition_stage,ana set_alias,ana record_check,ana delete_alias"
	if strings.Join(who, ",") != want {
		t.Fatalf("history:\n %s\nwant\n %s", strings.Join(who, ","), want)
	}
	if _, err := c.CreateModel(ctx, "other", "", map[string]string{"team": "x"}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteModel(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetModel(ctx, "other"); !client.IsNotFound(err) {
		t.Fatalf("deleted model: %v", err)
	}
	if err := c.DeleteVersion(ctx, "prices", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetVersion(ctx, "prices", 1); !client.IsNotFound(err) {
		t.Fatalf("deleted version: %v", err)
	}
	if _, err := c.Reject(ctx, "prices", 1, "production", "no"); !client.IsNotFound(err) {
		t.Fatalf("reject without a request: %v", err)
	}
}
