package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeBlock returns the commands of the first ```sh block after heading in
// the repository's README, continuation lines joined and comments removed.
func readmeBlock(t *testing.T, heading string) [][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, heading)
	if i < 0 {
		t.Fatalf("README has no %q", heading)
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n")
	end := strings.Index(s[start+6:], "```")
	var cmds [][]string
	for _, line := range strings.Split(strings.ReplaceAll(s[start+6:start+6+end], "\\\n", " "), "\n") {
		words := shellWords(t, line)
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
	}
	return cmds
}

// shellWords splits a line as sh would for the simple commands the README
// uses: words, double- and single-quoted strings, a trailing # comment.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == '#' && !in:
			i = len(line)
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '$' || c == '`' || c == '|' || c == ';' || c == '&':
			t.Fatalf("README line %q needs a shell; keep the block to plain commands", line)
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// TestReadmeTeamServerFlow runs the README's laptop flow as written against a
// live ferry server: every command over FERRY_SERVER only, from a directory
// laid out as the repository's root.
func TestReadmeTeamServerFlow(t *testing.T) {
	flow := readmeBlock(t, "### Working against a team server")
	url, stop := startListening(t, t.TempDir(), nil, "server", "--addr", "127.0.0.1:0")
	defer stop()
	root := t.TempDir()
	examples, err := filepath.Abs(filepath.Join("..", "..", "examples"))
	must(t, err)
	must(t, os.Symlink(examples, filepath.Join(root, "examples")))
	t.Chdir(root)
	laptop := t.TempDir()
	environ := []string{"HOME=" + t.TempDir(), "FERRY_DATA_DIR=" + laptop}
	var sawServe bool
	for _, words := range flow {
		if words[0] == "export" {
			k, _, _ := strings.Cut(words[1], "=")
			environ = append(environ, k+"="+url)
			continue
		}
		if words[0] != "ferry" {
			t.Fatalf("README runs %q; only ferry commands are tested", words[0])
		}
		if words[1] == "serve" {
			sawServe = true
			args := words[1:]
			for i, a := range args {
				if a == "127.0.0.1:8080" {
					args[i] = "127.0.0.1:0"
				}
			}
			surl, sstop := startListening(t, laptop, environ, args...)
			code, body := postJSON(t, surl+"/invocations", "application/json",
				`{"dataframe_records": [{"date": "2001-06-15 17:05:00", "distance": 733, "origin": "ATL"}]}`)
			if code != 200 {
				t.Fatalf("%v: %d %s", words, code, body)
			}
			if c, errs := sstop(); c != 0 {
				t.Fatalf("serve exited %d: %s", c, errs)
			}
			continue
		}
		code, out, errs := runCLIEnv(t, laptop, environ, words[1:]...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(words, " "), code, out, errs)
		}
	}
	if !sawServe {
		t.Fatal("the README flow no longer serves the model")
	}
	for _, f := range []string{"trained/model/MLmodel", "report/report.md", "flights-delay.tar.gz", "scored.csv"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("the flow did not write %s: %v", f, err)
		}
	}
	entries, _ := os.ReadDir(laptop)
	for _, e := range entries {
		if e.Name() != "cache" {
			t.Errorf("the flow over the server wrote %s into the laptop's data directory", e.Name())
		}
	}
}
