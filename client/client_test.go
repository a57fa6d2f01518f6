package client_test

import (
	"context"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/testserver"
)

func newClient(t *testing.T) *client.Client {
	c, _ := testserver.Client(t)
	return c
}

func TestSDKRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	run, err := c.StartRun(ctx, "sdk", client.RunOptions{Name: "first", Tags: map[string]string{"team": "ml"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.LogParams(ctx, map[string]string{"lr": "0.1", "depth": "4"}); err != nil {
		t.Fatal(err)
	}
	for step, v := range []float64{0.9, 0.5, math.NaN(), math.Inf(1)} {
		if err := run.LogMetric(ctx, "loss", v, int64(step)); err != nil {
			t.Fatal(err)
		}
	}
	if err := run.LogArtifactReader(ctx, "model/weights.txt", strings.NewReader("0.1 0.2\n")); err != nil {
		t.Fatal(err)
	}
	if err := run.End(ctx, client.StatusFinished); err != nil {
		t.Fatal(err)
	}
	if run.Info.Status != client.StatusFinished || run.Info.EndTime == 0 {
		t.Fatalf("after End: %+v", run.Info)
	}

	got, err := c.GetRun(ctx, run.ID())
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := got.Param("lr"); v != "0.1" {
		t.Fatalf("lr = %q", v)
	}
	if v, _ := got.Tag("team"); v != "ml" {
		t.Fatalf("team tag = %q", v)
	}
	if v, _ := got.Tag("mlflow.source.git.commit"); len(v) != 40 {
		t.Logf("no git commit recorded (not in a git work tree?): %q", v)
	} else if d, ok := got.Tag("ferry.source.git.dirty"); !ok || (d != "true" && d != "false") {
		t.Fatalf("git dirty flag = %q", d)
	}
	if v, ok := got.Metric("loss"); !ok || !math.IsInf(v, 1) {
		t.Fatalf("latest loss = %v", v)
	}
	hist, err := c.MetricHistory(ctx, run.ID(), "loss")
	if err != nil || len(hist) != 4 || !math.IsNaN(hist[2].Value) || hist[1].Value != 0.5 {
		t.Fatalf("history = %+v, %v", hist, err)
	}

	files, err := c.ListArtifacts(ctx, run.ID(), "model")
	if err != nil || len(files) != 1 || files[0].Path != "model/weights.txt" || files[0].FileSize != 8 {
		t.Fatalf("artifacts = %+v, %v", files, err)
	}
	rc, err := c.DownloadArtifact(ctx, run.ID(), "model/weights.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "0.1 0.2\n" {
		t.Fatalf("artifact = %q", b)
	}

	exp, err := c.GetExperimentByName(ctx, "sdk")
	if err != nil {
		t.Fatal(err)
	}
	runs, _, err := c.SearchRuns(ctx, client.RunQuery{ExperimentIDs: []string{exp.ID}, Filter: "params.depth = '4'"})
	if err != nil || len(runs) != 1 || runs[0].Info.RunID != run.ID() {
		t.Fatalf("search = %+v, %v", runs, err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	_, err := c.GetRun(ctx, "missing")
	if !client.IsNotFound(err) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("GetRun(missing) = %v", err)
	}
	run, err := c.StartRun(ctx, "errs", client.RunOptions{NoGit: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.LogParams(ctx, map[string]string{"lr": "1"}); err != nil {
		t.Fatal(err)
	}
	err = run.LogParams(ctx, map[string]string{"lr": "2"})
	var ce *client.Error
	if !asClientError(err, &ce) || ce.Status != 400 || ce.Code != "EINVALID" || !strings.Contains(ce.Message, "Changing param values is not allowed") {
		t.Fatalf("changing a param: %#v", err)
	}
	if _, err := client.New("ftp://x"); err == nil {
		t.Fatal("ftp URL accepted")
	}
	if _, err := c.EnsureExperiment(ctx, "errs"); err != nil {
		t.Fatalf("EnsureExperiment of an existing experiment: %v", err)
	}
}

func asClientError(err error, target **client.Error) bool {
	e, ok := err.(*client.Error)
	*target = e
	return ok
}
