package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/testbackend"
)

// TestUploadRetriesParts sends a file in parts through a proxy that fails
// the first attempt at every part with a 503 or a cut connection: each part
// is sent again, and the registered data asset holds exactly the file's bytes.
func TestUploadRetriesParts(t *testing.T) {
	b := testbackend.Open(t, "normal")
	api := b.API.Handler()
	var attempts, failures atomic.Int64
	seen := map[string]bool{}
	var mu = make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/parts/") {
			attempts.Add(1)
			mu <- struct{}{}
			first := !seen[r.URL.Path]
			seen[r.URL.Path] = true
			<-mu
			if first {
				failures.Add(1)
				if failures.Load()%2 == 0 {
					http.Error(w, "try again", http.StatusServiceUnavailable)
					return
				}
				hj, _ := w.(http.Hijacker)
				conn, _, _ := hj.Hijack()
				conn.Close()
				return
			}
		}
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// 40 MiB: three parts of the server's 16 MiB.
	var body bytes.Buffer
	body.WriteString("a,b\n")
	for i := 0; body.Len() < 40<<20; i++ {
		body.WriteString("1,2\n3,4\n5,6\n7,8\n")
	}
	path := filepath.Join(t.TempDir(), "big.csv")
	if err := os.WriteFile(path, body.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var last int64
	up, err := c.UploadFile(context.Background(), path, func(done, total int64) { last = done })
	if err != nil {
		t.Fatal(err)
	}
	if up.Parts != 3 || last != int64(body.Len()) || attempts.Load() != 6 {
		t.Fatalf("upload %+v, progress %d of %d, %d attempts", up, last, body.Len(), attempts.Load())
	}
	a, created, err := c.CreateDataVersion(context.Background(), "big", up, path, "")
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	sum := sha256.Sum256(body.Bytes())
	if a.Digest != "sha256:"+hex.EncodeToString(sum[:]) || a.Size != int64(body.Len()) {
		t.Fatalf("asset %+v", a)
	}
	// The upload is gone once registered; asking again names the missing part.
	up.Parts = 4
	if _, _, err := c.CreateDataVersion(context.Background(), "big", up, path, ""); err == nil || !strings.Contains(err.Error(), "part 1 of 4 never arrived") {
		t.Fatalf("missing part: %v", err)
	}
}
