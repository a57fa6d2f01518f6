package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// runCLI runs the CLI in-process with args and returns its exit code and output.
func runCLI(t *testing.T, data string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: []string{"HOME=" + t.TempDir()}}
	code := Run(context.Background(), append([]string{"--data", data}, args...), env)
	return code, out.String(), errb.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("output differs from %s (run with -update if intended):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

var (
	runIDs  = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
	shortID = regexp.MustCompile(`\b[0-9a-f]{8}\b`)
)

func TestExperimentsAndRuns(t *testing.T) {
	data := t.TempDir()
	code, out, errs := runCLI(t, data, "experiments", "create", "churn", "--tag", "team=growth")
	if code != 0 || !strings.Contains(out, `Created experiment "churn" with ID 1.`) {
		t.Fatalf("create: %d %q %q", code, out, errs)
	}
	code, _, errs = runCLI(t, data, "experiments", "create", "churn")
	if code != 1 || !strings.Contains(errs, "Experiment 'churn' already exists.") {
		t.Fatalf("duplicate: %d %q", code, errs)
	}
	code, out, _ = runCLI(t, data, "experiments", "list", "-o", "json")
	var exps []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &exps) != nil || len(exps) != 2 {
		t.Fatalf("list json: %d %s", code, out)
	}
	code, out, _ = runCLI(t, data, "experiments", "get", "churn", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "name: churn") || !strings.Contains(out, "experiment_id: \"1\"") {
		t.Fatalf("get yaml: %d %s", code, out)
	}

	var ids []string
	for i, lr := range []string{"0.1", "0.01"} {
		code, out, errs = runCLI(t, data, "runs", "log", "-e", "churn", "--name", "run-"+lr, "--param", "lr="+lr,
			"--metric", "auc="+[]string{"0.91", "0.87"}[i], "--tag", "family=gbdt", "--end", "-o", "json")
		if code != 0 {
			t.Fatalf("runs log: %d %s %s", code, out, errs)
		}
		var run struct {
			Info struct {
				RunID  string `json:"run_id"`
				Status string `json:"status"`
			} `json:"info"`
		}
		if err := json.Unmarshal([]byte(out), &run); err != nil || run.Info.Status != "FINISHED" {
			t.Fatalf("runs log output: %v %s", err, out)
		}
		ids = append(ids, run.Info.RunID)
	}
	code, out, _ = runCLI(t, data, "runs", "log", ids[0], "--metric", "loss=0.3", "--step", "7")
	if code != 1 && code != 0 {
		t.Fatalf("log to finished run: %d", code)
	}

	code, out, _ = runCLI(t, data, "runs", "list", "-e", "churn", "--filter", "metrics.auc > 0.9")
	if code != 0 || !strings.Contains(out, ids[0]) || strings.Contains(out, ids[1]) {
		t.Fatalf("filtered list: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, data, "runs", "compare", "-e", "churn", "--order-by", "metrics.auc DESC")
	if code != 0 {
		t.Fatalf("compare: %d %s", code, out)
	}
	golden(t, "runs_compare.txt", shortID.ReplaceAllString(out, "RUNID"))

	code, out, _ = runCLI(t, data, "runs", "get", ids[1])
	if code != 0 || !strings.Contains(out, "params.") && !strings.Contains(out, "lr") {
		t.Fatalf("get: %d %s", code, out)
	}
	code, out, _ = runCLI(t, data, "runs", "compare", ids[0], ids[1], "-o", "json")
	if code != 0 || !strings.Contains(out, `"metrics": [`) {
		t.Fatalf("compare json: %d %s", code, runIDs.ReplaceAllString(out, "ID"))
	}
}

func TestErrorsAndUsage(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown command", []string{"teleport"}, 2, `unknown command "teleport"`},
		{"unknown subcommand names the closest", []string{"runs", "lst"}, 2, `unknown command "lst" for "ferry runs"; did you mean "list"?`},
		{"unknown nested subcommand", []string{"models", "promot"}, 2, `unknown command "promot" for "ferry models"; did you mean "promote"?`},
		{"missing argument", []string{"runs", "get"}, 2, "get takes 1 argument(s): RUN_ID (got 0)"},
		{"bad flag", []string{"runs", "list", "--colour"}, 2, "unknown flag: --colour"},
		{"unknown run", []string{"runs", "get", "0123456789abcdef0123456789abcdef"}, 1, "Run with id=0123456789abcdef0123456789abcdef not found"},
		{"bad filter", []string{"runs", "list", "--filter", "metrics.acc >> 1"}, 1, "Invalid filter"},
		{"bad metric value", []string{"runs", "log", "--metric", "acc=high"}, 2, `metric acc="high" is not a number`},
		{"unknown experiment", []string{"runs", "list", "-e", "nope"}, 1, `no experiment with ID or name "nope"`},
		{"bad output format", []string{"experiments", "list", "-o", "xml"}, 1, `unknown output format "xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, data, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, tt.code, tt.want)
			}
		})
	}
}

func TestConfigShowRedacts(t *testing.T) {
	data := t.TempDir()
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, Environ: []string{
		"FERRY_STORE_URL=postgres://ferry:hunter2@db.internal:5432/ferry",
		"FERRY_S3_SECRET_KEY=topsecret", "FERRY_S3_ACCESS_KEY=AKIA",
	}}
	if code := Run(context.Background(), []string{"--data", data, "config", "show"}, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	if strings.Contains(s, "hunter2") || strings.Contains(s, "topsecret") || !strings.Contains(s, "REDACTED") {
		t.Fatalf("secrets not redacted:\n%s", s)
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := runCLI(t, t.TempDir(), "--help")
	if code != 0 {
		t.Fatal(code)
	}
	golden(t, "help.txt", out)
}

// TestDemo runs the demo twice on one data directory. Validation judges on
// the held-out May-June flights, which training never saw, and prints the
// held-out AUC of each challenger and of the champion; the deeper
// challenger fails, the shallower one takes @champion. The deploy stage
// rolls the new champion out to endpoint flights as a canary under load:
// the traffic reaches green 100 step by step, every step's analysis passes,
// the rollout succeeds and no request fails. The second run works beside
// what the first made, and rolls out again.
func TestDemo(t *testing.T) {
	data := t.TempDir()
	code, out, errs := runCLI(t, data, "demo")
	if code != 0 {
		t.Fatalf("demo: %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		"data:/flights/1  79158 rows", "data:/flights-holdout/1  40842 rows",
		"logistic-lr0.5", "metrics.val_auc", "3. Train: gradient-boosted trees on data:/flights/1", "val_auc",
		"flights-delay version 1 on data:/flights-holdout/1 (40842 rows)",
		"FAIL: flights-delay version 2 on data:/flights-holdout/1 (40842 rows)",
		"PASS: flights-delay version 3 on data:/flights-holdout/1 (40842 rows)",
		"@champion -> version 3",
		"7. Deploy: version 1 (@champion before the challengers) behind endpoint flights",
		"+ create deployment flights/blue", "-> blue answered {\"model_name\":\"flights\",\"model_version\":\"1\"",
		"(by rollout: canary 10→50→100 of green)",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "on data:/flights/1 (") {
		t.Fatalf("the demo validates on its training data:\n%s", out)
	}
	both := regexp.MustCompile(`held-out AUC \(May-Jun, unseen in training\): version 2 0\.\d{4}, @champion \(version 1\) 0\.\d{4}`)
	if !both.MatchString(out) {
		t.Fatalf("demo output lacks the held-out AUC of challenger and champion:\n%s", out)
	}
	checkDemoRollout(t, out)
	code, out, errs = runCLI(t, data, "demo")
	if code != 0 {
		t.Fatalf("second demo on the same directory: %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"registered flights-delay version 4", "version 5 on data:/flights-holdout/1", "@champion -> version 6",
		"~ update deployment flights/blue: model \"models:/flights-delay/1\" → \"models:/flights-delay/3\""} {
		if !strings.Contains(out, want) {
			t.Fatalf("second demo output lacks %q:\n%s", want, out)
		}
	}
	checkDemoRollout(t, out)
}

// checkDemoRollout checks the demo's canary: every step printed with its
// traffic and a passing analysis, the rollout succeeded with all traffic
// on green, and the load saw no failed request while both deployments
// answered.
func checkDemoRollout(t *testing.T, out string) {
	t.Helper()
	steps := regexp.MustCompile(`(?m)^   step (\d)/3: (.*?) +\(analysis: green [\d.]+% errors, p99 [\d.]+ms vs blue [\d.]+%, [\d.]+ms: (\w+)\); answered `).FindAllStringSubmatch(out, -1)
	wantTraffic := []string{"blue 90% green 10%", "blue 50% green 50%", "green 100%"}
	if len(steps) != 3 {
		t.Fatalf("want 3 rollout steps, got %d:\n%s", len(steps), out)
	}
	for i, m := range steps {
		if m[1] != strconv.Itoa(i+1) || m[2] != wantTraffic[i] || m[3] != "pass" {
			t.Errorf("step %d: %q, want step %d: %s and a passing analysis", i+1, m[0], i+1, wantTraffic[i])
		}
	}
	if !strings.Contains(out, "rollout succeeded; endpoint flights traffic: green 100%") {
		t.Errorf("the rollout did not end with all traffic on green:\n%s", out)
	}
	load := regexp.MustCompile(`load: (\d+) requests in \S+, (\d+) failed; answered by blue (\d+), green (\d+);`).FindStringSubmatch(out)
	if load == nil {
		t.Fatalf("no load summary:\n%s", out)
	}
	if load[2] != "0" || load[3] == "0" || load[4] == "0" {
		t.Errorf("load %q: want zero failed requests and answers from blue and green", load[0])
	}
}

func TestDataAndTrain(t *testing.T) {
	data := t.TempDir()
	dir := t.TempDir()
	csv := filepath.Join(dir, "toy.csv")
	body := "x1,x2,color,y\n"
	for i := range 200 {
		body += strings.Join([]string{
			strconv.Itoa(i % 17), strconv.Itoa((i * 7) % 13), []string{"red", "green", "blue"}[i%3], strconv.Itoa((i % 17) / 9),
		}, ",") + "\n"
	}
	os.WriteFile(csv, []byte(body), 0o644)

	code, out, errs := runCLI(t, data, "data", "create", "toy", "--path", csv)
	if code != 0 || !strings.Contains(out, "Registered data:/toy/1 (200 rows, csv") {
		t.Fatalf("data create: %d %q %q", code, out, errs)
	}
	code, out, _ = runCLI(t, data, "data", "create", "toy", "--path", csv)
	if code != 0 || !strings.Contains(out, "Unchanged") || !strings.Contains(out, "data:/toy/1") {
		t.Fatalf("same bytes again: %d %q", code, out)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("a,b\n1,2\n3\n"), 0o644)
	code, _, errs = runCLI(t, data, "data", "create", "toy", "--path", bad)
	if code != 1 || !strings.Contains(errs, "bad.csv line 3") {
		t.Fatalf("ragged file: %d %q", code, errs)
	}
	code, out, _ = runCLI(t, data, "data", "versions", "toy")
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("a rejected file made a version:\n%s", out)
	}

	spec := filepath.Join(dir, "train.yaml")
	os.WriteFile(spec, []byte("experiment_name: toy\ndata: data:/toy/1\ntarget: y\ntrainer: gbdt\nparams: {num_rounds: 10}\nseed: 1\n"), 0o644)
	code, out, errs = runCLI(t, data, "train", "-f", spec, "-o", "json")
	if code != 0 {
		t.Fatalf("train: %d %s %s", code, out, errs)
	}
	var res struct {
		RunID   string             `json:"run_id"`
		Task    string             `json:"task"`
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Task != "binary" || res.Metrics["val_auc"] < 0.9 {
		t.Fatalf("train output: %v %s", err, out)
	}
	code, out, _ = runCLI(t, data, "runs", "get", res.RunID)
	if code != 0 || !strings.Contains(out, "toy @ ") {
		t.Fatalf("run lacks its data input:\n%s", out)
	}
	code, _, errs = runCLI(t, data, "train", "--dataset", csv, "--target", "nope")
	if code != 1 || !strings.Contains(errs, "nope") {
		t.Fatalf("bad target: %d %q", code, errs)
	}
}
