package s3

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/blob/blobtest"
)

// testConfig returns the server under test from FERRY_TEST_S3_*, creating the
// bucket if needed. Without FERRY_TEST_S3_ENDPOINT it skips, or fails under CI.
func testConfig(t *testing.T) Config {
	t.Helper()
	endpoint := os.Getenv("FERRY_TEST_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("FERRY_TEST_S3_ENDPOINT not set under CI")
		}
		t.Skip("FERRY_TEST_S3_ENDPOINT not set: run .ci/run, or `source .ci/s3.sh && go test ./internal/blob/s3/` " +
			"to start a local S3-compatible server, or point FERRY_TEST_S3_{ENDPOINT,ACCESS_KEY,SECRET_KEY,BUCKET} at one")
	}
	cfg := Config{
		Endpoint:  endpoint,
		Bucket:    os.Getenv("FERRY_TEST_S3_BUCKET"),
		AccessKey: os.Getenv("FERRY_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("FERRY_TEST_S3_SECRET_KEY"),
	}
	if cfg.Bucket == "" {
		cfg.Bucket = "ferry-test"
	}
	host, secure, err := parseEndpoint(cfg.Endpoint, false)
	if err != nil {
		t.Fatalf("FERRY_TEST_S3_ENDPOINT: %v", err)
	}
	client, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       secure,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	ctx := t.Context()
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		t.Fatalf("bucket %q at %s: %v", cfg.Bucket, endpoint, err)
	}
	if !ok {
		err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{})
		if err != nil && !isCode(err, "BucketAlreadyOwnedByYou") && !isCode(err, "BucketAlreadyExists") {
			t.Fatalf("create bucket %q: %v", cfg.Bucket, err)
		}
	}
	return cfg
}

// openTest returns a store on a prefix unique to this test, emptied afterwards.
func openTest(t *testing.T, cfg Config) *Store {
	t.Helper()
	cfg.Prefix = "test-" + strings.ToLower(rand.Text()[:12]) + "/" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, t.Name())
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is canceled before cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Delete(ctx, ""); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	cfg := testConfig(t)
	blobtest.Run(t, func(t *testing.T) blob.Store { return openTest(t, cfg) })
}

// TestPrefixIsolation checks that a store never sees or deletes objects outside
// its prefix, including ones whose names share the prefix as a string.
func TestPrefixIsolation(t *testing.T) {
	cfg := testConfig(t)
	ctx := t.Context()
	outer := openTest(t, cfg)
	for _, k := range []string{"p/inside", "pp/sibling", "p.txt"} {
		if _, err := outer.Put(ctx, k, strings.NewReader(k)); err != nil {
			t.Fatal(err)
		}
	}
	inCfg := cfg
	inCfg.Prefix = outer.prefix + "/p"
	inner, err := New(ctx, inCfg)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := inner.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0] != (blob.Entry{Path: "inside", Size: 8}) {
		t.Errorf("inner List = %+v, want only \"inside\"", entries)
	}
	if err := inner.Delete(ctx, ""); err != nil {
		t.Fatal(err)
	}
	entries, err = outer.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []blob.Entry{{Path: "p.txt", Size: 5}, {Path: "pp", IsDir: true}}
	if len(entries) != 2 || entries[0] != want[0] || entries[1] != want[1] {
		t.Errorf("outer List after inner Delete = %+v, want %+v", entries, want)
	}
	if got, want := inner.URL(), "s3://"+cfg.Bucket+"/"+inCfg.Prefix; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
}

func TestNewErrors(t *testing.T) {
	cfg := testConfig(t)
	tests := []struct {
		name   string
		modify func(*Config)
		code   string
	}{
		{"missing bucket", func(c *Config) { c.Bucket = "ferry-no-such-bucket-" + strings.ToLower(rand.Text()[:8]) }, ferry.ENOTFOUND},
		{"wrong secret", func(c *Config) { c.SecretKey = "wrong-" + c.SecretKey }, ferry.EUNAUTHORIZED},
		{"half credentials", func(c *Config) { c.SecretKey = "" }, ferry.EINVALID},
		{"bad prefix", func(c *Config) { c.Prefix = "../x" }, ferry.EINVALID},
		{"bad bucket", func(c *Config) { c.Bucket = "No_Such" }, ferry.EINVALID},
		{"bad endpoint", func(c *Config) { c.Endpoint = "ftp://" + c.Endpoint }, ferry.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			tt.modify(&c)
			_, err := New(t.Context(), c)
			if got := ferry.ErrorCode(err); got != tt.code {
				t.Errorf("New error %v (code %q), want code %q", err, got, tt.code)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		name, url string
		want      Config
		wantErr   bool
	}{
		{name: "bucket", url: "s3://bucket", want: Config{Bucket: "bucket", UseSSL: true}},
		{name: "bucket slash", url: "s3://bucket/", want: Config{Bucket: "bucket", UseSSL: true}},
		{name: "prefix", url: "s3://my-bucket/ferry/artifacts", want: Config{Bucket: "my-bucket", Prefix: "ferry/artifacts", UseSSL: true}},
		{name: "prefix cleaned", url: "s3://b.dotted/a//b/./c/", want: Config{Bucket: "b.dotted", Prefix: "a/b/c", UseSSL: true}},
		{name: "escaped prefix", url: "s3://bucket/with%20space/%C3%A9", want: Config{Bucket: "bucket", Prefix: "with space/é", UseSSL: true}},

		{name: "other scheme", url: "http://bucket/x", wantErr: true},
		{name: "file scheme", url: "file:///tmp", wantErr: true},
		{name: "no bucket", url: "s3:///prefix", wantErr: true},
		{name: "opaque", url: "s3:bucket/prefix", wantErr: true},
		{name: "invalid bucket", url: "s3://Bad_Bucket/x", wantErr: true},
		{name: "short bucket", url: "s3://ab", wantErr: true},
		{name: "credentials", url: "s3://key:secret@bucket/x", wantErr: true},
		{name: "port", url: "s3://bucket:9000/x", wantErr: true},
		{name: "query", url: "s3://bucket/x?region=us", wantErr: true},
		{name: "fragment", url: "s3://bucket/x#y", wantErr: true},
		{name: "traversal", url: "s3://bucket/a/../../b", wantErr: true},
		{name: "escaped traversal", url: "s3://bucket/a/%2E%2E/b", wantErr: true},
		{name: "escaped backslash", url: "s3://bucket/a%5Cb", wantErr: true},
		{name: "escaped NUL", url: "s3://bucket/a%00b", wantErr: true},
		{name: "malformed", url: "s3://bucket/%zz", wantErr: true},
		{name: "empty", url: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURL(tt.url)
			if tt.wantErr {
				if ferry.ErrorCode(err) != ferry.EINVALID {
					t.Errorf("ParseURL(%q) = %+v, %v; want an EINVALID error", tt.url, got, err)
				}
				if strings.Contains(ferry.ErrorMessage(err), "secret") {
					t.Errorf("error message %q leaks the credentials", ferry.ErrorMessage(err))
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tt.url, got, err, tt.want)
			}
		})
	}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		name, endpoint string
		useSSL         bool
		host           string
		secure         bool
		wantErr        bool
	}{
		{name: "host port", endpoint: "127.0.0.1:9000", host: "127.0.0.1:9000"},
		{name: "host port ssl", endpoint: "s3.example.com", useSSL: true, host: "s3.example.com", secure: true},
		{name: "http URL", endpoint: "http://localhost:9000", useSSL: true, host: "localhost:9000"},
		{name: "https URL", endpoint: "https://s3.example.com/", host: "s3.example.com", secure: true},
		{name: "URL with path", endpoint: "http://localhost:9000/bucket", wantErr: true},
		{name: "URL with credentials", endpoint: "http://k:s@localhost:9000", wantErr: true},
		{name: "other scheme", endpoint: "ftp://localhost", wantErr: true},
		{name: "host with path", endpoint: "localhost:9000/x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, secure, err := parseEndpoint(tt.endpoint, tt.useSSL)
			if tt.wantErr {
				if ferry.ErrorCode(err) != ferry.EINVALID {
					t.Errorf("parseEndpoint(%q) = %q, %v, %v; want an EINVALID error", tt.endpoint, host, secure, err)
				}
				return
			}
			if err != nil || host != tt.host || secure != tt.secure {
				t.Errorf("parseEndpoint(%q) = %q, %v, %v; want %q, %v", tt.endpoint, host, secure, err, tt.host, tt.secure)
			}
		})
	}
}

func TestURLRoundTrip(t *testing.T) {
	for _, prefix := range []string{"", "a", "a/b c/é"} {
		t.Run(fmt.Sprintf("%q", prefix), func(t *testing.T) {
			s := &Store{bucket: "bucket", prefix: prefix}
			cfg, err := ParseURL(s.URL())
			if err != nil || cfg.Bucket != "bucket" || cfg.Prefix != prefix {
				t.Errorf("ParseURL(%q) = %+v, %v; want bucket %q, prefix %q", s.URL(), cfg, err, "bucket", prefix)
			}
		})
	}
}

// TestKeyLimitWithPrefix checks that the prefix counts towards S3's limit on
// object names, and that the check happens before any request.
func TestKeyLimitWithPrefix(t *testing.T) {
	ctx := t.Context()
	s := &Store{bucket: "bucket", prefix: strings.Repeat("p", 100)} // no client: must not be reached
	key := strings.Repeat("k", blob.MaxKeyLen-50)
	_, err := s.Put(ctx, key, strings.NewReader("x"))
	if ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("Put error %v, want EINVALID", err)
	}
	if _, _, err := s.Get(ctx, key); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("Get error %v, want EINVALID", err)
	}
	if _, err := s.Stat(ctx, key); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("Stat error %v, want EINVALID", err)
	}
}
