package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/failpoint"
	"github.com/ferry-ml/ferry/internal/model"
)

// crashDataset is the dataset digest the registered packages' lineage names.
const crashDataset = "sha256:3b5d5c3712955042212316173ccf37be800b8a6a1f3e6f5b5c6e0a1d2c3b4a59"

// TestCrashInCommit builds ferry with the failpoint tag and kills `ferry
// server` (SIGKILL, from inside the process) at each failpoint of the
// log-batch and registration commit paths, with SQLite's synchronous=full and
// normal. After each kill the database file passes SQLite's integrity checks,
// and a server restarted on the same data directory holds the batch or the
// version in flight wholly (a kill after COMMIT) or not at all (a kill before
// it, or while the package is copied) — never a part — and takes the same
// request again.
func TestCrashInCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping crash test in -short mode: it builds the ferry binary and runs it as a child process")
	}
	bin := buildFerry(t, "failpoint")
	cases := []struct {
		point     string
		committed bool // whether the request in flight at the kill was committed
		run       func(t *testing.T, s *crashServer, point string, committed bool)
	}{
		{failpoint.LogBatchBeforeCommit, false, crashLogBatch},
		{failpoint.LogBatchAfterCommit, true, crashLogBatch},
		{failpoint.RegisterPackageFile, false, crashRegister},
		{failpoint.RegisterBeforeCommit, false, crashRegister},
		{failpoint.RegisterAfterCommit, true, crashRegister},
	}
	for _, sync := range []string{"full", "normal"} {
		for _, tc := range cases {
			t.Run("synchronous="+sync+"/"+tc.point, func(t *testing.T) {
				dataDir := filepath.Join(t.TempDir(), "data")
				s := &crashServer{bin: bin, dataDir: dataDir, env: []string{"FERRY_SQLITE_SYNCHRONOUS=" + sync}}
				tc.run(t, s, tc.point, tc.committed)
				s.p.stop(t)
				checkIntegrity(t, filepath.Join(dataDir, "ferry.db"))
			})
		}
	}
}

// TestNoFailpointsInNormalBuild checks that a normal build has no failpoint
// code: the binary does not know FERRY_FAILPOINT, and a server started with
// it set to the first log-batch commit answers every log-batch and stays up.
func TestNoFailpointsInNormalBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: it builds the ferry binary and runs it as a child process")
	}
	if failpoint.Enabled {
		t.Fatal("the tests are built with the failpoint tag; this test checks a normal build")
	}
	bin := buildFerry(t)
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"FERRY_FAILPOINT", "killing the process", "internal/failpoint"} {
		if bytes.Contains(exe, []byte(s)) {
			t.Errorf("the normal build of ferry contains %q", s)
		}
	}

	dataDir := filepath.Join(t.TempDir(), "data")
	p := startFerry(t, bin, dataDir, []string{"FERRY_FAILPOINT=" + failpoint.LogBatchBeforeCommit + ":1"})
	p.waitReady(t)
	runID := p.createRun(t)
	for i := range 3 {
		if code, body := p.post(t, "runs/log-batch", batchRequest(runID, i)); code != http.StatusOK {
			t.Fatalf("log-batch %d: status %d: %s\nstderr:\n%s", i, code, body, p.stderr.String())
		}
	}
	p.stop(t)
	if strings.Contains(p.stderr.String(), "failpoint") {
		t.Errorf("the normal build mentions a failpoint:\n%s", p.stderr.String())
	}
}

// crashServer is a ferry server over one data directory, restarted after
// each kill.
type crashServer struct {
	bin, dataDir string
	env          []string
	p            *ferryProcess
}

// start starts the server with the failpoint armed ("" for none).
func (s *crashServer) start(t *testing.T, armed string) {
	t.Helper()
	env := s.env
	if armed != "" {
		env = append(env[:len(env):len(env)], "FERRY_FAILPOINT="+armed)
	}
	s.p = startFerry(t, s.bin, s.dataDir, env)
	s.p.waitReady(t)
}

// killed waits for the server to die at point, then checks the database
// file as the kill left it, before anything reopens it.
func (s *crashServer) killed(t *testing.T, point string) {
	t.Helper()
	select {
	case <-s.p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("ferry did not die at failpoint %s\nstderr:\n%s", point, s.p.stderr.String())
	}
	if want := "failpoint: " + point + " hit"; !strings.Contains(s.p.stderr.String(), want) {
		t.Fatalf("ferry exited (%v) but not at failpoint %s\nstderr:\n%s", s.p.err, point, s.p.stderr.String())
	}
	checkIntegrity(t, filepath.Join(s.dataDir, "ferry.db"))
}

// crashLogBatch streams log-batch requests with the failpoint armed at the
// third, then checks the batches after a restart.
func crashLogBatch(t *testing.T, s *crashServer, point string, committed bool) {
	s.start(t, point+":3")
	runID := s.p.createRun(t)
	acked := map[int]bool{}
	inflight := -1
	for i := 0; inflight < 0; i++ {
		if i == 10 {
			t.Fatalf("ten batches acknowledged, the failpoint never fired\nstderr:\n%s", s.p.stderr.String())
		}
		code, body, err := s.p.tryPost(context.Background(), "runs/log-batch", batchRequest(runID, i))
		switch {
		case err != nil:
			inflight = i
		case code != http.StatusOK:
			t.Fatalf("batch %d: status %d: %s", i, code, body)
		default:
			acked[i] = true
		}
	}
	s.killed(t, point)

	s.start(t, "")
	whole := checkBatches(t, s.p, runID, acked, map[int]bool{inflight: true}, inflight)
	if whole != committed {
		t.Errorf("in-flight batch %d present after restart: %v, want %v (killed at %s)", inflight, whole, committed, point)
	}
	if code, body := s.p.post(t, "runs/log-batch", batchRequest(runID, inflight+1)); code != http.StatusOK {
		t.Fatalf("log-batch after restart: status %d: %s", code, body)
	}
}

// crashRegister registers version 1 of a model, then kills the server while
// it registers version 2 (a different package) at point, and checks after a
// restart that version 1 is whole and version 2 whole or absent; an absent
// version 2 is registered again.
func crashRegister(t *testing.T, s *crashServer, point string, committed bool) {
	const name = "churn"
	s.start(t, "")
	run1, files := uploadPackage(t, s.p, "1")
	run2, _ := uploadPackage(t, s.p, "2")
	s.p.stop(t)

	// The count of hits that kills while version 2 is registered: for the
	// package copy, after two of its files.
	at := 2
	if point == failpoint.RegisterPackageFile {
		at = files + 2
	}
	s.start(t, fmt.Sprintf("%s:%d", point, at))
	if code, body := s.p.do(t, "POST", "/api/v1/models/"+name+"/versions", map[string]any{"source": "runs:/" + run1 + "/model"}); code != http.StatusCreated {
		t.Fatalf("register version 1: status %d: %s", code, body)
	}
	if _, _, err := s.p.tryDo(context.Background(), "POST", "/api/v1/models/"+name+"/versions", map[string]any{"source": "runs:/" + run2 + "/model"}); err == nil {
		t.Fatalf("register version 2 was answered; want the server killed at %s", point)
	}
	s.killed(t, point)

	s.start(t, "")
	checkVersion(t, s.p, name, 1, run1, true)
	checkVersion(t, s.p, name, 2, run2, committed)
	if !committed {
		if code, body := s.p.do(t, "POST", "/api/v1/models/"+name+"/versions", map[string]any{"source": "runs:/" + run2 + "/model"}); code != http.StatusCreated {
			t.Fatalf("register version 2 again after restart: status %d: %s", code, body)
		}
		checkVersion(t, s.p, name, 2, run2, true)
	}
}

// uploadPackage creates a run and uploads to its "model" artifact path a
// Ferry model package whose lineage names the run, a commit and
// crashDataset; seed makes packages differ. It returns the run ID and the
// package's file count.
func uploadPackage(t *testing.T, p *ferryProcess, seed string) (runID string, files int) {
	t.Helper()
	code, body := p.post(t, "runs/create", []byte(`{"experiment_id":"0"}`))
	if code != http.StatusOK {
		t.Fatalf("runs/create: status %d: %s", code, body)
	}
	var out struct {
		Run struct {
			Info struct {
				RunID       string `json:"run_id"`
				ArtifactURI string `json:"artifact_uri"`
			} `json:"info"`
		} `json:"run"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("runs/create: %v: %s", err, body)
	}
	runID = out.Run.Info.RunID
	dir := filepath.Join(t.TempDir(), "model")
	m := &model.Manifest{ArtifactPath: "model", RunID: runID, UTCTimeCreated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	m.SetFlavor(model.FerryFlavor{Trainer: "logistic", Data: "model.json"})
	info := model.FerryInfo{Task: model.TaskBinary, ClassLabels: []string{"stay", "churn"}, Lineage: model.Lineage{
		RunID: runID, GitCommit: "847e906c1d2b3a4f5e6d7c8b9a0f1e2d3c4b5a69",
		Datasets: []model.DatasetRef{{Name: "churn-data", Digest: crashDataset}}, Trainer: "logistic",
	}}
	if _, err := model.Save(context.Background(), dir, m, info, map[string]io.Reader{"model.json": strings.NewReader(`{"seed": "` + seed + `"}`)}); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimLeft(strings.TrimPrefix(out.Run.Info.ArtifactURI, "mlflow-artifacts:"), "/")
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		code, body, err := p.tryDo(context.Background(), "PUT", "/api/2.0/mlflow-artifacts/artifacts/"+key+"/model/"+filepath.ToSlash(rel), data)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("status %d: %s", code, body)
		}
		return err
	})
	if err != nil {
		t.Fatalf("upload the package: %v", err)
	}
	return runID, files
}

// checkVersion checks that version of name is wholly present — its row,
// its lineage (run, commit, dataset, and the dataset's index), one
// create_version audit event, and a package that verifies against its
// digest — or, when want is false, wholly absent.
func checkVersion(t *testing.T, p *ferryProcess, name string, version int, runID string, want bool) {
	t.Helper()
	vpath := fmt.Sprintf("/api/v1/models/%s/versions/%d", name, version)
	var lineage struct {
		Version struct {
			RunID       string `json:"run_id"`
			ModelDigest string `json:"model_digest"`
		} `json:"version"`
		GitCommit string `json:"git_commit"`
		Datasets  []struct {
			Digest string `json:"digest"`
		} `json:"datasets"`
	}
	code, body := p.do(t, "GET", vpath+"/lineage", nil)
	switch {
	case !want && code != http.StatusNotFound:
		t.Errorf("version %d: status %d, want 404 (absent): %s", version, code, body)
	case want && code != http.StatusOK:
		t.Errorf("version %d lineage: status %d, want 200: %s", version, code, body)
	case want:
		if err := json.Unmarshal(body, &lineage); err != nil {
			t.Fatalf("version %d lineage: %v: %s", version, err, body)
		}
		if lineage.Version.RunID != runID || lineage.GitCommit == "" || len(lineage.Datasets) != 1 || lineage.Datasets[0].Digest != crashDataset {
			t.Errorf("version %d lineage = %s, want run %s, a commit and dataset %s", version, body, runID, crashDataset)
		}
	}

	var found struct {
		ModelVersions []struct {
			Name    string `json:"name"`
			Version int    `json:"version"`
		} `json:"model_versions"`
	}
	p.getJSON(t, "/api/v1/lineage?"+url.Values{"dataset": {crashDataset}}.Encode(), &found)
	indexed := false
	for _, v := range found.ModelVersions {
		indexed = indexed || (v.Name == name && v.Version == version)
	}
	if indexed != want {
		t.Errorf("version %d in the lineage index of %s: %v, want %v", version, crashDataset, indexed, want)
	}

	var history struct {
		Events []struct {
			Action  string `json:"action"`
			Version int    `json:"version"`
		} `json:"events"`
	}
	p.getJSON(t, "/api/v1/models/"+name+"/history", &history)
	events := 0
	for _, e := range history.Events {
		if e.Action == "create_version" && e.Version == version {
			events++
		}
	}
	if wantEvents := map[bool]int{true: 1, false: 0}[want]; events != wantEvents {
		t.Errorf("version %d: %d create_version audit events, want %d", version, events, wantEvents)
	}

	if !want {
		return
	}
	resp, err := p.client.Get(p.root + vpath + "/package")
	if err != nil {
		t.Fatalf("version %d package: %v", version, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("version %d package: status %d: %s", version, resp.StatusCode, b)
	}
	pkg, err := model.ExtractArchive(context.Background(), resp.Body, filepath.Join(t.TempDir(), "pkg"))
	if err != nil {
		t.Fatalf("version %d package does not verify: %v", version, err)
	}
	if pkg.Digest() != lineage.Version.ModelDigest {
		t.Errorf("version %d package digest %s, the version records %s", version, pkg.Digest(), lineage.Version.ModelDigest)
	}
}

// do sends a request with a JSON body (nil for none) to a path of the
// server and returns the status and body.
func (p *ferryProcess) do(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	code, resp, err := p.tryDo(context.Background(), method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s", method, path, err, p.stderr.String())
	}
	return code, resp
}

// tryDo is do without failing: body is sent as is when it is []byte, as
// JSON otherwise.
func (p *ferryProcess) tryDo(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.root+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// getJSON decodes the 200 answer of a GET of path into v.
func (p *ferryProcess) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	code, body := p.do(t, "GET", path, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}
