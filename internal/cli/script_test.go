package cli

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// script runs command lines as the README and the commands' --help examples
// write them, in-process and in order, in the test's working directory:
//
//   - ferry (also ./ferry and go run ./cmd/ferry) goes through Run; ferry
//     server and ferry serve start in the background on a free port, and the
//     address they were given (or their default) is mapped to the real one in
//     every later line, including "localhost:PORT" and "0.0.0.0:PORT";
//   - export and unset change the environment of later commands; exporting
//     FERRY_SERVER to an address nothing listens on starts a fresh ferry
//     server there, the team's server of the README;
//   - VAR=$(ferry ... -o json | jq -r .a.b) runs the command and keeps the
//     field; "$VAR" expands in later lines;
//   - curl is performed with net/http (-s, -H, -d, -X) and must answer 2xx;
//   - python3 runs where Python can import mlflow, and is skipped with a
//     message otherwise;
//   - go build and go test are skipped with a message: the test is the build;
//   - a comment "exits N" gives the expected exit code, 0 otherwise.
//
// Background servers stop at the end of each block, as a reader would stop
// them with Ctrl-C.
type script struct {
	t      *testing.T
	env    map[string]string
	vars   map[string]string
	addrs  map[string]string // address as written -> live host:port
	stops  []func()
	serves map[string]func() // a running ferry serve by the port it was asked for
	// replace maps placeholder words (a run ID in an example) to real ones.
	replace map[string]string
	// fakeBinary stands in for the static ferry binary an OCI image needs:
	// the test binary is not one.
	fakeBinary string
}

func newScript(t *testing.T) *script {
	return &script{
		t: t, env: map[string]string{"HOME": t.TempDir()}, vars: map[string]string{},
		addrs: map[string]string{}, serves: map[string]func(){}, replace: map[string]string{},
	}
}

func (s *script) environ() []string {
	var out []string
	for k, v := range s.env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// endBlock stops the block's background servers.
func (s *script) endBlock() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
	s.serves = map[string]func(){}
	s.addrs = map[string]string{}
}

var (
	exitsComment = regexp.MustCompile(`\bexits (\d+)\b`)
	substitution = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=\$\((.*) \| jq -r (\.[A-Za-z0-9_.]+)\)$`)
)

// lines splits a block into command lines: continuations joined, blank lines
// dropped.
func lines(block string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// run runs one line.
func (s *script) run(line string) {
	t := s.t
	t.Helper()
	code, comment := s.splitComment(line)
	for from, to := range s.replace {
		code = strings.ReplaceAll(code, from, to)
	}
	want := 0
	if m := exitsComment.FindStringSubmatch(comment); m != nil {
		want, _ = strconv.Atoi(m[1])
	}
	if m := substitution.FindStringSubmatch(code); m != nil {
		words := s.words(m[2])
		if len(words) == 0 || words[0] != "ferry" {
			t.Fatalf("%q: only ferry commands are run inside $(...)", line)
		}
		out := s.ferry(line, words[1:], 0)
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%q: output is not JSON: %v\n%s", line, err, out)
		}
		for _, k := range strings.Split(strings.TrimPrefix(m[3], "."), ".") {
			obj, _ := v.(map[string]any)
			v = obj[k]
		}
		str, ok := v.(string)
		if !ok || str == "" {
			t.Fatalf("%q: no string at %s in %s", line, m[3], out)
		}
		s.vars[m[1]] = str
		return
	}
	words := s.words(code)
	if len(words) == 0 {
		return
	}
	switch {
	case words[0] == "export":
		for _, kv := range words[1:] {
			k, v, _ := strings.Cut(kv, "=")
			if k == "FERRY_SERVER" && strings.HasPrefix(v, "http://") && !s.isLive(v) {
				s.teamServer(strings.TrimPrefix(v, "http://"))
				v = s.mapAddrs(v)
			}
			s.env[k] = v
		}
	case words[0] == "unset":
		for _, k := range words[1:] {
			delete(s.env, k)
		}
	case words[0] == "go" && len(words) > 2 && words[1] == "run" && words[2] == "./cmd/ferry":
		s.ferry(line, words[3:], want)
	case words[0] == "go":
		t.Logf("not run: %q (the test runs the CLI in-process; it is itself the build and the tests)", line)
	case words[0] == "ferry" || words[0] == "./ferry":
		s.ferry(line, words[1:], want)
	case words[0] == "curl":
		s.curl(line, words[1:])
	case words[0] == "python" || words[0] == "python3":
		s.python(line, words[1:], want)
	default:
		t.Fatalf("%q: the test does not know how to run %q; use a form it runs", line, words[0])
	}
}

// splitComment cuts a trailing # comment outside quotes.
func (s *script) splitComment(line string) (string, string) {
	var quote byte
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return strings.TrimSpace(line[:i]), line[i+1:]
		}
	}
	return line, ""
}

// words splits a line as sh would for the simple commands shown: words,
// quoted strings, and $VAR or ${VAR} outside single quotes; then maps
// addresses.
func (s *script) words(line string) []string {
	t := s.t
	var words []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'' && c == '\'':
			quote = 0
		case quote == '\'':
			cur.WriteByte(c)
		case c == '$':
			j := i + 1
			braced := j < len(line) && line[j] == '{'
			if braced {
				j++
			}
			k := j
			for k < len(line) && (line[k] == '_' || line[k] >= 'A' && line[k] <= 'Z' || line[k] >= 'a' && line[k] <= 'z' || line[k] >= '0' && line[k] <= '9') {
				k++
			}
			if k == j {
				t.Fatalf("%q: only $VAR is expanded", line)
			}
			name := line[j:k]
			v, ok := s.vars[name]
			if !ok {
				v, ok = s.env[name]
			}
			if !ok {
				t.Fatalf("%q: $%s is not set", line, name)
			}
			cur.WriteString(v)
			in = true
			i = k - 1
			if braced {
				i = k
			}
		case quote == '"' && c == '"':
			quote = 0
		case quote == '"':
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '`' || c == '|' || c == ';' || c == '&' || c == '>' || c == '<':
			t.Fatalf("%q needs a shell; keep examples to plain commands", line)
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	for i, w := range words {
		words[i] = s.mapAddrs(w)
	}
	return words
}

func (s *script) mapAddrs(w string) string {
	for from, to := range s.addrs {
		w = strings.ReplaceAll(w, from, to)
	}
	return w
}

func (s *script) isLive(url string) bool {
	host := strings.TrimPrefix(url, "http://")
	for _, to := range s.addrs {
		if strings.HasPrefix(host, to) {
			return true
		}
	}
	return false
}

// mapPort makes every way of writing port (and the address as written) lead
// to live.
func (s *script) mapPort(written, live string) {
	_, port, _ := strings.Cut(written, ":")
	if port == "" {
		port = written
	}
	for _, host := range []string{"127.0.0.1", "localhost", "0.0.0.0"} {
		s.addrs[host+":"+port] = live
	}
	s.addrs[written] = live
}

// ferry runs the CLI with args and requires exit code want; ferry server and
// ferry serve start in the background instead. It returns stdout.
func (s *script) ferry(line string, args []string, want int) string {
	t := s.t
	t.Helper()
	if len(args) > 0 && (args[0] == "server" || args[0] == "serve") {
		s.background(line, args)
		return ""
	}
	if i := slices.Index(args, "--server"); i >= 0 && i+1 < len(args) && strings.HasPrefix(args[i+1], "http://") && !s.isLive(args[i+1]) {
		s.teamServer(strings.TrimPrefix(args[i+1], "http://"))
		args = slices.Clone(args)
		args[i+1] = s.mapAddrs(args[i+1])
	}
	if i := slices.Index(args, "--image"); i >= 0 && !slices.Contains(args, "--binary") {
		t.Logf("%q: the image gets a stand-in static binary (the test binary is not a static ferry)", line)
		args = append(args, "--binary", s.staticBinary())
	}
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: s.environ()})
	if code != want {
		t.Fatalf("%s\nexit %d, want %d\nstdout:\n%s\nstderr:\n%s", line, code, want, out.String(), errb.String())
	}
	return out.String()
}

// background starts ferry server or ferry serve on a free port and maps the
// address it was asked for to it. A second ferry serve on the same port
// stops the first, as it would have to be.
func (s *script) background(line string, args []string) {
	t := s.t
	t.Helper()
	written := "127.0.0.1:5000"
	if args[0] == "serve" {
		written = "127.0.0.1:8080"
	}
	args = slices.Clone(args)
	if i := slices.Index(args, "--addr"); i >= 0 && i+1 < len(args) {
		written = args[i+1]
		args[i+1] = "127.0.0.1:0"
	} else {
		args = append(args, "--addr", "127.0.0.1:0")
	}
	_, port, _ := strings.Cut(written, ":")
	if stop, ok := s.serves[port]; ok {
		stop()
	}
	live, stop := s.start(line, args)
	s.serves[port] = stop
	s.mapPort(written, live)
}

// teamServer starts a ferry server over a fresh data directory for the
// address a line names.
func (s *script) teamServer(written string) {
	live, _ := s.start("team server for "+written, []string{"server", "--addr", "127.0.0.1:0", "--data", s.t.TempDir()})
	s.addrs[written] = live
	s.t.Logf("started a ferry server at %s for %s", live, written)
}

func (s *script) start(line string, args []string) (string, func()) {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errb := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		code := Run(ctx, args, Env{Stdin: strings.NewReader(""), Stdout: pw, Stderr: errb, Environ: s.environ()})
		pw.Close()
		done <- code
	}()
	first, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("%s: %v; stderr: %s", line, err, errb.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	i := strings.Index(first, "http://")
	if i < 0 {
		cancel()
		t.Fatalf("%s printed %q", line, first)
	}
	live := strings.TrimSuffix(strings.Fields(first[i+len("http://"):])[0], "/")
	var once bool
	stop := func() {
		if once {
			return
		}
		once = true
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("%s exited %d: %s", line, code, errb.String())
		}
	}
	s.stops = append(s.stops, stop)
	return live, stop
}

// curl performs the request a curl line describes and requires a 2xx.
func (s *script) curl(line string, args []string) {
	t := s.t
	t.Helper()
	method, url, body := "", "", ""
	header := http.Header{}
	for i := 0; i < len(args); i++ {
		next := func() string {
			i++
			if i >= len(args) {
				t.Fatalf("%q: %s needs a value", line, args[i-1])
			}
			return args[i]
		}
		switch a := args[i]; a {
		case "-s", "--silent", "-S", "--show-error", "-f", "--fail":
		case "-H", "--header":
			k, v, _ := strings.Cut(next(), ":")
			header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		case "-d", "--data", "--data-raw", "--data-binary":
			body = next()
		case "-X", "--request":
			method = next()
		default:
			if strings.HasPrefix(a, "-") {
				t.Fatalf("%q: the test does not handle curl's %s", line, a)
			}
			url = a
		}
	}
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	if method == "" {
		method = http.MethodGet
		if body != "" {
			method = http.MethodPost
		}
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	req.Header = header
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // as curl -d sends
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s\nanswered %d: %s", line, resp.StatusCode, raw)
	}
}

// python runs a Python line where python3 can import mlflow.
func (s *script) python(line string, args []string, want int) {
	t := s.t
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Logf("skipped %q: no python3 here", line)
		return
	}
	if out, err := exec.Command(py, "-c", "import mlflow").CombinedOutput(); err != nil {
		t.Logf("skipped %q: python3 cannot import mlflow (%s)", line, strings.TrimSpace(lastLine(string(out))))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Env = append(os.Environ(), s.environ()...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	if code != want {
		t.Fatalf("%s\nexit %d, want %d\n%s", line, code, want, out)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// staticBinary writes a minimal static ELF executable for this machine, for
// OCI images: WriteImage only checks that it is one and copies it.
func (s *script) staticBinary() string {
	t := s.t
	if s.fakeBinary != "" {
		return s.fakeBinary
	}
	machine, ok := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if !ok {
		t.Skipf("no stand-in ELF binary for %s", runtime.GOARCH)
	}
	hdr := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Entry: 0x401000, Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: 1, Shentsize: 64,
	}
	copy(hdr.Ident[:], "\x7fELF")
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var buf bytes.Buffer
	must(t, binary.Write(&buf, binary.LittleEndian, hdr))
	must(t, binary.Write(&buf, binary.LittleEndian, elf.Prog64{
		Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X), Vaddr: 0x400000, Paddr: 0x400000,
		Filesz: 120, Memsz: 120, Align: 0x1000,
	}))
	s.fakeBinary = filepath.Join(t.TempDir(), "ferry")
	must(t, os.WriteFile(s.fakeBinary, buf.Bytes(), 0o755))
	return s.fakeBinary
}
