package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// normalize replaces what legitimately differs between two Ferry
// installations that were given the same commands — run ids, times, digests
// of packages that record their run, temporary paths, ports — so that the
// rest of two outputs can be compared byte for byte.
func normalize(s string, dirs ...string) string {
	for _, d := range dirs {
		s = strings.ReplaceAll(s, d, "<DIR>")
	}
	for _, r := range []struct {
		re   *regexp.Regexp
		with string
	}{
		{regexp.MustCompile(`\b1\d{12}\b`), "<MS>"}, // ms since the epoch
		{regexp.MustCompile(`sha256:[0-9a-f]{12,64}`), "sha256:<HEX>"},
		{regexp.MustCompile(`\b[0-9a-f]{32}\b`), "<ID>"},
		{regexp.MustCompile(`\b[0-9a-f]{12}\b`), "<JOB>"},
		{regexp.MustCompile(`\b[0-9a-f]{8}\b`), "<SHORT>"},
		{regexp.MustCompile(`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?`), "<TIME>"},
		{regexp.MustCompile(`"(start_time|end_time|creation_time|last_update_time|created_at|creation_timestamp|last_updated_timestamp|timestamp|time)": ?\d+`), `"$1": <MS>`},
		{regexp.MustCompile(`\b\d+(\.\d+)?(ms|µs|s)\b`), "<DUR>"},
		{regexp.MustCompile(`\d+ rows/s`), "<N> rows/s"},
		{regexp.MustCompile(`Timing: .*`), "Timing: <TIMING>"},
		{regexp.MustCompile(`"(seconds|predict_seconds|metrics_seconds|total_seconds)": ?[0-9.e-]+`), `"$1": <SECONDS>`},
		{regexp.MustCompile(`127\.0\.0\.1:\d+`), "<ADDR>"},
		// Whether a deployment is ready yet depends on when it was asked.
		{regexp.MustCompile(`(?m) (true|false)$`), " <READY>"},
		{regexp.MustCompile(`"?[Rr]eady"?:[ \t]+(true|false)`), "ready: <READY>"},
		// So is whether a replacement is still loading.
		{regexp.MustCompile(`,\n\s*"pending": "[^"]*"`), ""},
		{regexp.MustCompile(`(?m)^\s*pending: .*\n`), ""},
		// Which deployment answers an unpinned request is drawn by weight.
		{regexp.MustCompile(`Answered by deployment [a-z-]+\.`), "Answered by deployment <DRAWN>."},
		{regexp.MustCompile(`[ \t]+`), " "},
		{regexp.MustCompile(`\s+\n`), "\n"},
	} {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
}

// prefix is the first n characters of s, or s when shorter.
func prefix(s string, n int) string { return s[:min(n, len(s))] }

// TestCommandsLocalAndRemote runs the same commands twice — against the
// local data directory, and over --server against a live `ferry server` on
// another directory — and requires the same exit codes and the same output
// up to ids, times and paths: nothing is silently local.
func TestCommandsLocalAndRemote(t *testing.T) {
	work := t.TempDir()
	csv := filepath.Join(work, "toy.csv")
	body := "x1,x2,y\n"
	for i := range 120 {
		body += strconv.Itoa(i%17) + "," + strconv.Itoa((i*7)%13) + "," + strconv.Itoa((i%17)/9) + "\n"
	}
	must(t, os.WriteFile(csv, []byte(body), 0o644))
	notes := filepath.Join(work, "notes.txt")
	must(t, os.WriteFile(notes, []byte("what we tried\n"), 0o644))
	job := filepath.Join(work, "job.yaml")
	must(t, os.WriteFile(job, []byte("type: command\ncommand: echo hello from the job\nexperiment_name: churn\n"), 0o644))
	invocation := filepath.Join(work, "invocation.json")
	must(t, os.WriteFile(invocation, []byte(`{"dataframe_records": [{"x1": 1, "x2": 2}]}`), 0o644))
	rows := filepath.Join(work, "rows.csv")
	must(t, os.WriteFile(rows, []byte("x1,x2\n1,2\n9,0\n16,12\n"), 0o644))

	deployDir := filepath.Join(work, "deploy")
	must(t, os.MkdirAll(filepath.Join(deployDir, "deployments"), 0o755))
	must(t, os.WriteFile(filepath.Join(deployDir, "endpoint.yaml"), []byte("$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json\nkind: Endpoint\nname: churn\ntraffic: {blue: 100}\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(deployDir, "deployments", "blue.yml"), []byte("kind: Deployment\nname: blue\nendpoint_name: churn\nmodel: models:/toy@champion\n---\nkind: Deployment\nname: green\nendpoint_name: churn\nmodel: models:/toy/1\n"), 0o644))
	bigger := filepath.Join(work, "bigger.yaml")
	must(t, os.WriteFile(bigger, []byte("kind: Endpoint\nname: churn\ntraffic: {blue: 90, green: 10}\n---\nkind: Deployment\nname: blue\nendpoint_name: churn\nmodel: models:/toy@champion\ninstance_count: 2\n---\nkind: Deployment\nname: green\nendpoint_name: churn\nmodel: models:/toy/1\n"), 0o644))
	labelsCSV := filepath.Join(work, "labels.csv")
	must(t, os.WriteFile(labelsCSV, []byte("request_id,label,time\nr1,1,2024-03-01T12:00:00Z\nr2,0,\n"), 0o644))
	labelsJSON := filepath.Join(work, "labels.json")
	must(t, os.WriteFile(labelsJSON, []byte(`{"labels": [{"request_id": "r1", "label": 0}, {"request_id": "r3", "label": "spam"}]}`), 0o644))
	badLabels := filepath.Join(work, "bad-labels.csv")
	must(t, os.WriteFile(badLabels, []byte("request_id,label\nr1,1\n,0\n"), 0o644))
	monitors := filepath.Join(work, "monitors")
	must(t, os.MkdirAll(monitors, 0o755))
	monitorYAML := "kind: Monitor\nname: churn-drift\nendpoint: churn\nschedule: {cron: \"0 0 1 1 *\"}\nsignals:\n  data_drift: {}\n  model_performance: {metric_thresholds: {roc_auc: 0.6}}\n"
	must(t, os.WriteFile(filepath.Join(monitors, "churn.yaml"), []byte(monitorYAML), 0o644))
	monitored := filepath.Join(work, "monitored.yaml")
	must(t, os.WriteFile(monitored, []byte(strings.Replace(monitorYAML, "0 0 1 1 *", "0 6 1 1 *", 1)+"---\nkind: Monitor\nname: churn-quality\nendpoint: churn\nsignals: {data_quality: {}}\n"), 0o644))
	typo := filepath.Join(work, "typo.yaml")
	must(t, os.WriteFile(typo, []byte("kind: Deployment\nname: blue\nendpoint_name: churn\nmodel: models:/toy/1\ninstance_cout: 2\n"), 0o644))

	serverData := t.TempDir()
	url, stop := startListening(t, serverData, nil, "server", "--addr", "127.0.0.1:0")
	defer stop()

	modes := []struct {
		name  string
		flags []string
		data  string
	}{
		{"local", nil, t.TempDir()},
		{"remote", []string{"--server", url}, t.TempDir()},
	}
	type step struct {
		args []string
		code int
		// runtime marks output that shows how deployments run now: a
		// local command's server has only just started them, so only
		// the exit code is compared.
		runtime bool
	}
	steps := []step{
		{args: []string{"experiments", "create", "churn"}},
		{args: []string{"experiments", "list"}},
		{args: []string{"experiments", "get", "churn", "-o", "yaml"}},
		{args: []string{"data", "create", "toy", "--path", csv, "--description", "toy rows"}},
		{args: []string{"data", "create", "toy", "--path", csv}},
		{args: []string{"data", "list"}},
		{args: []string{"data", "versions", "toy", "-o", "json"}},
		{args: []string{"data", "get", "data:/toy/1"}},
		{args: []string{"data", "get", "data:/nope/1"}, code: 1},
		{args: []string{"train", "--dataset", "data:/toy/1", "--target", "y", "--trainer", "logistic", "--seed", "1", "--experiment", "churn", "--name", "first", "--out", "$OUT/kept"}},
		{args: []string{"runs", "list", "-e", "churn"}},
		{args: []string{"runs", "log", "-e", "churn", "--name", "manual", "--param", "lr=0.1", "--metric", "auc=0.91", "--end"}},
		{args: []string{"runs", "get", "$RUN"}},
		{args: []string{"runs", "compare", "-e", "churn"}},
		{args: []string{"runs", "upload", "$RUN", notes, "--to", "notes"}},
		{args: []string{"runs", "download", "$RUN", "notes", "-O", "$OUT/notes"}},
		{args: []string{"runs", "download", "$RUN", "model/MLmodel", "-O", "$OUT/mlmodel"}},
		{args: []string{"models", "register", "toy", "--from", "runs:/$RUN/model"}},
		{args: []string{"models", "register", "laptop", "--from", "$OUT/kept/model", "--description", "trained anywhere"}},
		{args: []string{"models", "register", "laptop", "--from", "$OUT/nope"}, code: 1},
		{args: []string{"models", "list"}},
		{args: []string{"models", "get", "toy"}},
		{args: []string{"models", "versions", "toy"}},
		{args: []string{"models", "alias", "toy", "champion", "1"}},
		{args: []string{"models", "lineage", "models:/toy@champion"}},
		{args: []string{"plan", "-f", deployDir, "--detailed-exitcode"}, code: 2},
		{args: []string{"apply", "-f", deployDir}},
		{args: []string{"plan", "-f", deployDir, "--detailed-exitcode"}},
		{args: []string{"plan", "-f", bigger, "-o", "json"}}, // saved as $OUT/plan.json
		{args: []string{"apply", "$OUT/plan.json"}},
		{args: []string{"apply", "-f", bigger}},
		{args: []string{"apply", "$OUT/plan.json", "-f", bigger}, code: 2},
		{args: []string{"endpoints", "list"}},
		{args: []string{"endpoints", "get", "churn"}},
		{args: []string{"endpoints", "get", "churn", "-o", "json"}},
		{args: []string{"endpoints", "get", "nosuch"}, code: 1},
		{args: []string{"deployments", "list"}},
		{args: []string{"deployments", "list", "--endpoint", "churn", "-o", "yaml"}},
		{args: []string{"deployments", "get", "churn/green"}},
		{args: []string{"deployments", "get", "churn"}, code: 2},
		{args: []string{"endpoints", "traffic", "churn", "blue=50"}, code: 1},
		{args: []string{"endpoints", "traffic", "churn", "blue=80", "green=20"}},
		{args: []string{"plan", "-f", bigger}},
		{args: []string{"apply", "$OUT/plan.json"}, code: 1},
		{args: []string{"endpoints", "logs", "churn"}},
		{args: []string{"endpoints", "invoke", "churn"}, code: 2},
	}
	steps = append(steps,
		step{args: []string{"endpoints", "invoke", "churn", "-f", invocation}},
		step{args: []string{"endpoints", "invoke", "churn", "-f", invocation, "--deployment", "green", "-o", "json"}},
		step{args: []string{"deployments", "logs", "churn/blue", "--lines", "5"}, runtime: true},
		step{args: []string{"deployments", "restart", "churn/blue"}},
		step{args: []string{"endpoints", "rollout", "status", "churn"}, code: 1}, // no rollout yet
		step{args: []string{"monitor", "labels", "churn", "-f", labelsCSV}},
		step{args: []string{"monitor", "labels", "churn", "-f", labelsJSON, "-o", "json"}},
		step{args: []string{"monitor", "labels", "churn", "-f", labelsCSV, "-o", "yaml"}}, // again: r1 back to 1
		step{args: []string{"monitor", "labels", "churn", "-f", badLabels}, code: 1},      // names line 3
		step{args: []string{"monitor", "labels", "nosuch", "-f", labelsCSV}, code: 1},
		step{args: []string{"monitor", "labels", "churn"}, code: 2},
		// Monitors (kind: Monitor) through plan and apply, then read back.
		step{args: []string{"plan", "-f", monitors, "--detailed-exitcode"}, code: 2},
		step{args: []string{"apply", "-f", monitors}},
		step{args: []string{"apply", "-f", monitors}}, // No changes.
		step{args: []string{"plan", "-f", monitored}}, // ~ update monitor churn-drift, + create churn-quality
		step{args: []string{"apply", "-f", monitored, "-o", "json"}},
		step{args: []string{"plan", "-f", monitors, "--prune"}}, // - delete monitor churn-quality
		step{args: []string{"monitor", "list"}},
		step{args: []string{"monitor", "get", "churn-drift", "-o", "yaml"}},
		step{args: []string{"monitor", "get", "nosuch"}, code: 1},
		step{args: []string{"monitor", "status"}},
		step{args: []string{"monitor", "status", "churn-drift", "-o", "json"}},
		step{args: []string{"monitor", "status", "a", "b"}, code: 2},
	)
	steps = append(steps, []step{
		{args: []string{"plan", "-f", filepath.Join(deployDir, "endpoint.yaml"), "--prune"}, code: 1},
		{args: []string{"plan", "-f", typo, "--detailed-exitcode"}, code: 1},
		// --target kubernetes --render pins through the server and writes manifests.
		{args: []string{"apply", "-f", deployDir, "--target", "kubernetes", "--render", "$OUT/k8s", "--image-repository", "registry.example.com/team"}},
		{args: []string{"apply", "-f", bigger, "--target", "kubernetes", "--render", "$OUT/kserve", "--format", "kserve", "--image-repository", "registry.example.com/team", "--namespace", "ml", "-o", "json"}},
		{args: []string{"apply", "-f", deployDir, "--target", "kubernetes"}, code: 2},
		{args: []string{"apply", "-f", deployDir, "--target", "kubernetes", "--render", "$OUT/k8s"}, code: 2},
		{args: []string{"apply", "-f", deployDir, "--target", "process", "--render", "$OUT/k8s"}, code: 2},
		{args: []string{"apply", "-f", deployDir, "--render", "$OUT/k8s"}, code: 2},
		{args: []string{"apply", "-f", bigger, "--target", "kubernetes", "--render", "$OUT/none", "--format", "helm", "--image-repository", "registry.example.com/team"}, code: 2},
		{args: []string{"validate", "models:/toy@champion", "--dataset", "data:/toy/1", "--out", "$OUT/report"}},
		{args: []string{"validate", "models:/toy/1", "--dataset", csv, "--baseline", "@nope", "--out", "$OUT/report2"}, code: 2},
		{args: []string{"models", "check", "toy", "1", "--kind", "review", "--verdict", "pass"}},
		{args: []string{"models", "promote", "toy", "1", "--to", "staging", "--reason", "looks good"}},
		{args: []string{"models", "approve", "toy", "1", "--to", "production"}, code: 1},
		{args: []string{"models", "reject", "toy", "1", "--to", "production"}, code: 1},
		{args: []string{"models", "alias", "toy", "challenger", "1"}},
		{args: []string{"models", "alias", "toy", "challenger", "--delete"}},
		{args: []string{"models", "history", "toy"}},
		{args: []string{"jobs", "submit", "-f", job}},
		{args: []string{"jobs", "list"}},
		{args: []string{"models", "package", "models:/toy/1", "-O", "$OUT/toy.tar.gz"}},
		{args: []string{"models", "verify", "$OUT/toy.tar.gz"}},
		{args: []string{"predict", "models:/toy@champion", "-i", rows, "-o", "$OUT/scored.csv"}},
		{args: []string{"predict", "models:/toy@champion", "-i", rows, "-o", "$OUT/scored.csv"}, code: 1},
		{args: []string{"predict", "models:/toy@champion", "-i", rows, "-o", "$OUT/scored.csv", "--force"}},
		{args: []string{"predict", "models:/nope/1", "-i", rows, "-o", "$OUT/x.csv"}, code: 1},
		{args: []string{"models", "package", "models:/nope/1", "-O", "$OUT/x.tar.gz"}, code: 1},
		// Run IDs may be shortened to a unique prefix of 8+ characters, as
		// printed (issue 10.3), and the same source registers again (10.1).
		{args: []string{"runs", "get", "$SHORT", "-o", "json"}},
		{args: []string{"runs", "get", "0badcaf"}, code: 1},
		{args: []string{"runs", "download", "$SHORT", "notes", "-O", "$OUT/notes-again"}},
		{args: []string{"models", "register", "toy", "--from", "runs:/$SHORT/model"}},
		{args: []string{"runs", "delete", "$SHORT"}},
	}...)
	outputs := make([][]string, len(modes))
	files := make([]map[string]string, len(modes))
	for m, mode := range modes {
		out := t.TempDir()
		run := ""
		files[m] = map[string]string{}
		for _, st := range steps {
			args := append([]string{}, mode.flags...)
			for _, a := range st.args {
				args = append(args, strings.NewReplacer("$RUN", run, "$SHORT", prefix(run, 8), "$OUT", out).Replace(a))
			}
			code, stdout, stderr := runCLI(t, mode.data, args...)
			if code != st.code {
				t.Fatalf("%s: ferry %s: exit %d, want %d\n%s%s", mode.name, strings.Join(st.args, " "), code, st.code, stdout, stderr)
			}
			if st.args[0] == "plan" && st.args[len(st.args)-1] == "json" {
				must(t, os.WriteFile(filepath.Join(out, "plan.json"), []byte(stdout), 0o644))
			}
			if st.args[0] == "train" {
				run = regexp.MustCompile(`Run ([0-9a-f]{32})`).FindStringSubmatch(stdout)[1]
			}
			if st.runtime {
				stdout, stderr = "", ""
			}
			outputs[m] = append(outputs[m], normalize(stdout+stderr, out, mode.data, serverData, work))
		}
		// ferry serve, resolving the version the same way.
		surl, sstop := startListening(t, mode.data, nil, append(append([]string{}, mode.flags...), "serve", "--addr", "127.0.0.1:0", "models:/toy@champion")...)
		code, answer := postJSON(t, surl+"/invocations", "application/json", `{"dataframe_records": [{"x1": 1, "x2": 2}]}`)
		if c, errs := sstop(); c != 0 {
			t.Fatalf("%s: serve exited %d: %s", mode.name, c, errs)
		}
		outputs[m] = append(outputs[m], strconv.Itoa(code)+" "+answer)
		for _, f := range []string{"notes/notes.txt", "mlmodel/MLmodel", "scored.csv", "report/report.md", "k8s/churn-blue.deployment.yaml", "k8s/churn.service.yaml", "kserve/churn.inferenceservice.yaml"} {
			b, err := os.ReadFile(filepath.Join(out, f))
			if err != nil {
				t.Fatalf("%s: %v", mode.name, err)
			}
			files[m][f] = normalize(string(b), out, mode.data, serverData, work)
		}
	}
	steps = append(steps, step{args: []string{"serve", "models:/toy@champion"}})
	for i, st := range steps {
		if outputs[0][i] != outputs[1][i] {
			t.Errorf("ferry %s: local and remote differ:\nlocal:\n%s\nremote:\n%s", strings.Join(st.args, " "), outputs[0][i], outputs[1][i])
		}
	}
	for f := range files[0] {
		if files[0][f] != files[1][f] {
			t.Errorf("%s: local and remote differ:\nlocal:\n%s\nremote:\n%s", f, files[0][f], files[1][f])
		}
	}
	// Remote commands leave nothing in a local data directory but the
	// download cache and the jobs that ran here (the local executor's).
	entries, _ := os.ReadDir(modes[1].data)
	for _, e := range entries {
		if e.Name() != "cache" && e.Name() != "jobs" {
			t.Errorf("remote mode wrote %s into the local data directory", e.Name())
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestLocalOnlyCommandsSaySo: the commands that cannot work against a remote
// server refuse --server with a message instead of quietly running locally.
func TestLocalOnlyCommandsSaySo(t *testing.T) {
	for _, args := range [][]string{{"server"}, {"demo"}, {"config", "show"}} {
		t.Run(args[0], func(t *testing.T) {
			code, _, errs := runCLI(t, t.TempDir(), append([]string{"--server", "http://127.0.0.1:9"}, args...)...)
			if code != 2 || !strings.Contains(errs, "--server does not apply") && !strings.Contains(errs, "so it does not apply") {
				t.Fatalf("exit %d: %s", code, errs)
			}
		})
	}
}
