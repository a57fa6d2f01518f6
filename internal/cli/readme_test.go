package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeBlock is a fenced code block of the README with the heading it is
// under.
type readmeBlock struct {
	heading, lang, body string
}

var fence = regexp.MustCompile("(?m)^```([a-z]*)\n")

// readmeBlocks returns the README's fenced blocks in order.
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	var blocks []readmeBlock
	heading := ""
	for {
		loc := fence.FindStringSubmatchIndex(s)
		if loc == nil {
			return blocks
		}
		for _, l := range strings.Split(s[:loc[0]], "\n") {
			if strings.HasPrefix(l, "#") {
				heading = l
			}
		}
		rest := s[loc[1]:]
		end := strings.Index(rest, "```")
		if end < 0 {
			t.Fatalf("README: unterminated block under %q", heading)
		}
		blocks = append(blocks, readmeBlock{heading: heading, lang: s[loc[2]:loc[3]], body: rest[:end]})
		s = rest[end+3:]
	}
}

// TestReadmeRunsAsWritten runs every ```sh block of the README in order, as
// a reader would in one shell from the repository's root (see script for how
// each kind of line is run), against a fresh data directory.
func TestReadmeRunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("trains several models")
	}
	blocks := readmeBlocks(t)
	root := t.TempDir()
	examples, err := filepath.Abs(filepath.Join("..", "..", "examples"))
	must(t, err)
	must(t, os.Symlink(examples, filepath.Join(root, "examples")))
	t.Chdir(root)
	s := newScript(t)
	ran := 0
	for _, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		before := dirEntries(filepath.Join(root, ".ferry"))
		for _, line := range lines(b.body) {
			s.run(line)
			ran++
		}
		s.endBlock()
		if b.heading == "### Working against a team server" {
			// Over the server, only the download cache lands locally.
			for _, e := range dirEntries(filepath.Join(root, ".ferry")) {
				if !slices.Contains(before, e) && e != "cache" {
					t.Errorf("the flow over the server wrote %s into the laptop's data directory", e)
				}
			}
			for _, f := range []string{"trained/model/MLmodel", "report/report.md", "flights-delay.tar.gz", "scored.csv"} {
				if _, err := os.Stat(filepath.Join(root, f)); err != nil {
					t.Errorf("the flow did not write %s: %v", f, err)
				}
			}
		}
	}
	if ran < 30 {
		t.Fatalf("ran only %d README lines; are the blocks still ```sh?", ran)
	}
	for _, f := range []string{"flights-delay-oci/index.json", "flights-delay-1.tar.gz", "report-v1/report.md", "scored.parquet"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("the README did not write %s: %v", f, err)
		}
	}
}

// TestReadmeYAMLIsTheExampleFile: a ```yaml block of the README that starts
// with "# examples/NAME" is that file, so what the README shows is what its
// commands run.
func TestReadmeYAMLIsTheExampleFile(t *testing.T) {
	n := 0
	for _, b := range readmeBlocks(t) {
		first, _, _ := strings.Cut(b.body, "\n")
		name, ok := strings.CutPrefix(first, "# examples/")
		if b.lang != "yaml" || !ok {
			continue
		}
		name, _, _ = strings.Cut(name, ":")
		raw, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		if string(raw) != b.body {
			t.Errorf("README's block for examples/%s differs from the file:\n%s\nfile:\n%s", name, b.body, raw)
		}
		n++
	}
	if n == 0 {
		t.Fatal("the README shows no examples/ file")
	}
}

func dirEntries(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
