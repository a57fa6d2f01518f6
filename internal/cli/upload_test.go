package cli

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDataCreateUploadsWithProgress registers a large file over --server:
// the upload shows its progress and the server's version holds exactly the
// file's bytes. The size is FERRY_TEST_UPLOAD_MB (CI: 300), default 24.
func TestDataCreateUploadsWithProgress(t *testing.T) {
	mb := 24
	if v := os.Getenv("FERRY_TEST_UPLOAD_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("FERRY_TEST_UPLOAD_MB=%q", v)
		}
		mb = n
	}
	path := filepath.Join(t.TempDir(), "events.csv")
	f, err := os.Create(path)
	must(t, err)
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	n, _ := fmt.Fprintln(w, "user,amount,country,churned")
	size := int64(n)
	for i := 0; size < int64(mb)<<20; i++ {
		n, _ := fmt.Fprintf(w, "%d,%d.%02d,%s,%d\n", i%100000, i%997, i%100, []string{"DE", "FR", "US", "JP"}[i%4], (i/7)%2)
		size += int64(n)
	}
	must(t, w.Flush())
	must(t, f.Close())
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))

	url, stop := startListening(t, t.TempDir(), nil, "server", "--addr", "127.0.0.1:0")
	defer stop()
	laptop := t.TempDir()
	env := []string{"FERRY_SERVER=" + url, "FERRY_PROGRESS=always"}
	code, out, errs := runCLIEnv(t, laptop, env, "data", "create", "events", "--path", path)
	if code != 0 {
		t.Fatalf("data create: %d %s %s", code, out, errs)
	}
	if !strings.Contains(errs, "uploading") || !strings.Contains(errs, "ETA") {
		t.Errorf("no upload progress on stderr: %q", errs)
	}
	if !strings.Contains(out, "Registered data:/events/1") || !strings.Contains(out, digest) {
		t.Fatalf("data create: %s", out)
	}
	code, out, errs = runCLIEnv(t, laptop, env, "data", "get", "data:/events/1", "-o", "json")
	if code != 0 || !strings.Contains(out, `"size": `+strconv.FormatInt(size, 10)) || !strings.Contains(out, digest) {
		t.Fatalf("data get: %d %s %s", code, out, errs)
	}
}
