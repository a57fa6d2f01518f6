package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/config"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// writeFile writes content to a fresh file in a temporary directory and returns
// its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefault(t *testing.T) {
	got := config.Default()
	want := config.Config{
		DataDir: ".ferry",
		Server: config.ServerConfig{
			Addr:            "127.0.0.1:5000",
			ReadTimeout:     5 * time.Minute,
			WriteTimeout:    5 * time.Minute,
			ShutdownTimeout: 30 * time.Second,
			MaxRequestBytes: 16 << 20,
		},
		SQLite: config.SQLiteConfig{Synchronous: "full"},
		S3:     config.S3Config{UseSSL: true},
		Log:    config.LogConfig{Level: "info", Format: "text"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	if err := got.Resolved().Validate(); err != nil {
		t.Errorf("Default().Resolved().Validate() = %v", err)
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name   string
		file   string // YAML content of the file passed to Load
		noFile bool   // pass path "" to Load instead of a file
		env    []string
		want   func(c *config.Config) // applied to Default()
	}{
		{
			name:   "defaults",
			noFile: true,
			want:   func(*config.Config) {},
		},
		{
			name: "empty file",
			file: "",
			want: func(*config.Config) {},
		},
		{
			name: "file merge keeps unmentioned defaults",
			file: `
data_dir: /var/lib/ferry
server:
  addr: ":8080"
  read_timeout: 45s
log:
  level: debug
`,
			want: func(c *config.Config) {
				c.DataDir = "/var/lib/ferry"
				c.Server.Addr = ":8080"
				c.Server.ReadTimeout = 45 * time.Second
				c.Log.Level = "debug"
			},
		},
		{
			name: "file sets every section",
			file: `
store_url: postgres://ferry:pw@db:5432/ferry
artifact_url: s3://ml-artifacts/ferry
server:
  write_timeout: 2m
  shutdown_timeout: 10s
  max_request_bytes: 1048576
sqlite:
  synchronous: normal
s3:
  endpoint: http://minio:9000
  region: eu-west-1
  access_key: AKID
  secret_key: shh
  use_ssl: false
log:
  format: json
`,
			want: func(c *config.Config) {
				c.StoreURL = "postgres://ferry:pw@db:5432/ferry"
				c.ArtifactURL = "s3://ml-artifacts/ferry"
				c.Server.WriteTimeout = 2 * time.Minute
				c.Server.ShutdownTimeout = 10 * time.Second
				c.Server.MaxRequestBytes = 1 << 20
				c.SQLite.Synchronous = "normal"
				c.S3 = config.S3Config{Endpoint: "http://minio:9000", Region: "eu-west-1", AccessKey: "AKID", SecretKey: "shh", UseSSL: false}
				c.Log.Format = "json"
			},
		},
		{
			name:   "env overrides defaults",
			noFile: true,
			env: []string{
				"FERRY_DATA_DIR=/data",
				"FERRY_STORE_URL=postgresql://db/ferry",
				"FERRY_ARTIFACT_URL=file:///srv/artifacts",
				"FERRY_ADDR=0.0.0.0:9000",
				"FERRY_MAX_REQUEST_BYTES=1024",
				"FERRY_SQLITE_SYNCHRONOUS=normal",
				"FERRY_LOG_LEVEL=warn",
				"FERRY_LOG_FORMAT=json",
				"FERRY_S3_ENDPOINT=minio:9000",
				"FERRY_S3_REGION=us-east-2",
				"FERRY_S3_ACCESS_KEY=ak",
				"FERRY_S3_SECRET_KEY=sk",
				"FERRY_S3_USE_SSL=false",
			},
			want: func(c *config.Config) {
				c.DataDir = "/data"
				c.StoreURL = "postgresql://db/ferry"
				c.ArtifactURL = "file:///srv/artifacts"
				c.Server.Addr = "0.0.0.0:9000"
				c.Server.MaxRequestBytes = 1024
				c.SQLite.Synchronous = "normal"
				c.Log = config.LogConfig{Level: "warn", Format: "json"}
				c.S3 = config.S3Config{Endpoint: "minio:9000", Region: "us-east-2", AccessKey: "ak", SecretKey: "sk", UseSSL: false}
			},
		},
		{
			name: "env overrides file",
			file: "server:\n  addr: 127.0.0.1:1\n  max_request_bytes: 10\nlog:\n  level: debug\n  format: json\n",
			env:  []string{"FERRY_ADDR=127.0.0.1:2", "FERRY_LOG_LEVEL=error"},
			want: func(c *config.Config) {
				c.Server.Addr = "127.0.0.1:2"
				c.Server.MaxRequestBytes = 10
				c.Log = config.LogConfig{Level: "error", Format: "json"}
			},
		},
		{
			name: "empty env value counts as unset",
			file: "data_dir: from-file\n",
			env:  []string{"FERRY_DATA_DIR=", "FERRY_S3_USE_SSL="},
			want: func(c *config.Config) { c.DataDir = "from-file" },
		},
		{
			name:   "last duplicate wins and malformed entries are ignored",
			noFile: true,
			env:    []string{"FERRY_DATA_DIR=first", "NOEQUALS", "FERRY_DATA_DIR=second", "OTHER=x=y"},
			want:   func(c *config.Config) { c.DataDir = "second" },
		},
		{
			name:   "AWS fallbacks fill unset S3 fields",
			noFile: true,
			env: []string{
				"AWS_ENDPOINT_URL=http://aws-generic:9000",
				"AWS_REGION=ap-south-1",
				"AWS_DEFAULT_REGION=ignored-1",
				"AWS_ACCESS_KEY_ID=awsak",
				"AWS_SECRET_ACCESS_KEY=awssk",
			},
			want: func(c *config.Config) {
				c.S3.Endpoint = "http://aws-generic:9000"
				c.S3.Region = "ap-south-1"
				c.S3.AccessKey = "awsak"
				c.S3.SecretKey = "awssk"
			},
		},
		{
			name:   "MLflow endpoint preferred over AWS endpoints",
			noFile: true,
			env: []string{
				"AWS_ENDPOINT_URL=http://generic:1",
				"AWS_ENDPOINT_URL_S3=http://s3-specific:2",
				"MLFLOW_S3_ENDPOINT_URL=http://mlflow:3",
				"AWS_DEFAULT_REGION=eu-north-1",
			},
			want: func(c *config.Config) {
				c.S3.Endpoint = "http://mlflow:3"
				c.S3.Region = "eu-north-1"
			},
		},
		{
			name:   "FERRY variables win over AWS fallbacks",
			noFile: true,
			env: []string{
				"AWS_ENDPOINT_URL=http://aws:1",
				"FERRY_S3_ENDPOINT=http://ferry:2",
				"AWS_REGION=aws-region",
				"FERRY_S3_REGION=ferry-region",
				"AWS_ACCESS_KEY_ID=awsak",
				"FERRY_S3_ACCESS_KEY=ferryak",
				"FERRY_S3_SECRET_KEY=ferrysk",
				"AWS_SECRET_ACCESS_KEY=awssk",
			},
			want: func(c *config.Config) {
				c.S3.Endpoint = "http://ferry:2"
				c.S3.Region = "ferry-region"
				c.S3.AccessKey = "ferryak"
				c.S3.SecretKey = "ferrysk"
			},
		},
		{
			name: "file wins over AWS fallbacks",
			file: "s3:\n  endpoint: file-endpoint:9000\n  access_key: fileak\n  secret_key: filesk\n",
			env:  []string{"AWS_ENDPOINT_URL=http://aws:1", "AWS_ACCESS_KEY_ID=awsak", "AWS_SECRET_ACCESS_KEY=awssk", "AWS_REGION=r1"},
			want: func(c *config.Config) {
				c.S3.Endpoint = "file-endpoint:9000"
				c.S3.AccessKey = "fileak"
				c.S3.SecretKey = "filesk"
				c.S3.Region = "r1"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if !tt.noFile {
				path = writeFile(t, tt.file)
			}
			got, err := config.Load(path, tt.env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := config.Default()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		noFile    bool
		env       []string
		wantIn    []string // substrings of the error message
		wantIs    error
		wantValid bool // the error is a *config.ValidationError
	}{
		{
			name:   "unknown top-level field",
			file:   "data_dir: x\nstorage_url: sqlite:///x.db\n",
			wantIn: []string{"storage_url", "line 2"},
		},
		{
			name:   "unknown nested field",
			file:   "server:\n  adr: :80\n",
			wantIn: []string{"adr"},
		},
		{
			name:   "bare number duration",
			file:   "server:\n  read_timeout: 30\n",
			wantIn: []string{"time.Duration"},
		},
		{
			name:   "malformed duration",
			file:   "server:\n  read_timeout: soon\n",
			wantIn: []string{"soon"},
		},
		{
			name:   "not a mapping",
			file:   "- a\n- b\n",
			wantIn: []string{"parse"},
		},
		{
			name:   "two documents",
			file:   "data_dir: a\n---\ndata_dir: b\n",
			wantIn: []string{"one YAML document"},
		},
		{
			name:      "bad integer names the variable",
			noFile:    true,
			env:       []string{"FERRY_MAX_REQUEST_BYTES=abc"},
			wantIn:    []string{"FERRY_MAX_REQUEST_BYTES", `"abc"`},
			wantValid: true,
		},
		{
			name:      "every bad variable is reported",
			noFile:    true,
			env:       []string{"FERRY_MAX_REQUEST_BYTES=1e6", "FERRY_S3_USE_SSL=maybe"},
			wantIn:    []string{"FERRY_MAX_REQUEST_BYTES", "FERRY_S3_USE_SSL", `"maybe"`},
			wantValid: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if !tt.noFile {
				path = writeFile(t, tt.file)
			}
			_, err := config.Load(path, tt.env)
			if err == nil {
				t.Fatal("Load succeeded, want error")
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			var verr *config.ValidationError
			if got := errors.As(err, &verr); got != tt.wantValid {
				t.Errorf("errors.As(*ValidationError) = %v, want %v (err %v)", got, tt.wantValid, err)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "absent.yaml")
		_, err := config.Load(path, nil)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Load = %v, want fs.ErrNotExist", err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name the path", err)
		}
	})
}

func TestValidate(t *testing.T) {
	valid := []struct {
		name   string
		modify func(c *config.Config)
	}{
		{"sqlite absolute", func(c *config.Config) { c.StoreURL = "sqlite:///var/lib/ferry/ferry.db" }},
		{"sqlite relative opaque", func(c *config.Config) { c.StoreURL = "sqlite:ferry.db" }},
		{"sqlite relative dot host", func(c *config.Config) { c.StoreURL = "sqlite://./data/ferry.db" }},
		{"postgres", func(c *config.Config) { c.StoreURL = "postgres://u:p@db:5432/ferry?sslmode=disable" }},
		{"postgresql socket", func(c *config.Config) { c.StoreURL = "postgresql:///ferry?host=/run/postgresql" }},
		{"file artifacts", func(c *config.Config) { c.ArtifactURL = "file:///srv/artifacts" }},
		{"file localhost artifacts", func(c *config.Config) { c.ArtifactURL = "file://localhost/srv/artifacts" }},
		{"s3 artifacts", func(c *config.Config) { c.ArtifactURL = "s3://ml-artifacts.team-1/ferry/prod" }},
		{"s3 bucket only", func(c *config.Config) { c.ArtifactURL = "s3://bucket" }},
		{"all interfaces", func(c *config.Config) { c.Server.Addr = ":5000" }},
		{"ipv6 random port", func(c *config.Config) { c.Server.Addr = "[::1]:0" }},
		{"s3 endpoint host", func(c *config.Config) { c.S3.Endpoint = "minio" }},
		{"s3 endpoint host port", func(c *config.Config) { c.S3.Endpoint = "10.0.0.5:9000" }},
		{"s3 endpoint URL", func(c *config.Config) { c.S3.Endpoint = "https://s3.example.com/" }},
		{"s3 credentials", func(c *config.Config) { c.S3.AccessKey, c.S3.SecretKey = "a", "s" }},
		{"sqlite normal", func(c *config.Config) { c.SQLite.Synchronous = "normal" }},
		{"json debug", func(c *config.Config) { c.Log = config.LogConfig{Level: "debug", Format: "json"} }},
	}
	for _, tt := range valid {
		t.Run("valid/"+tt.name, func(t *testing.T) {
			c := config.Default()
			tt.modify(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
			if err := c.Resolved().Validate(); err != nil {
				t.Errorf("Resolved().Validate() = %v", err)
			}
		})
	}

	invalid := []struct {
		name   string
		modify func(c *config.Config)
		want   string
	}{
		{"empty data dir", func(c *config.Config) { c.DataDir = "" }, "data_dir: must not be empty"},
		{"mysql", func(c *config.Config) { c.StoreURL = "mysql://db/ferry" },
			`store_url: unsupported scheme "mysql"; use sqlite:///path or postgres://...`},
		{"store without scheme", func(c *config.Config) { c.StoreURL = "/var/ferry.db" }, "store_url: missing scheme"},
		{"sqlite host", func(c *config.Config) { c.StoreURL = "sqlite://rel/ferry.db" }, "store_url: malformed sqlite URL"},
		{"sqlite query", func(c *config.Config) { c.StoreURL = "sqlite:///x.db?_pragma=x" }, "store_url: malformed sqlite URL"},
		{"sqlite directory", func(c *config.Config) { c.StoreURL = "sqlite:///var/lib/" }, "store_url: malformed sqlite URL"},
		{"artifact scheme", func(c *config.Config) { c.ArtifactURL = "gs://bucket/x" }, `artifact_url: unsupported scheme "gs"`},
		{"relative file", func(c *config.Config) { c.ArtifactURL = "file:artifacts" }, "artifact_url: file URL must name an absolute directory"},
		{"file remote host", func(c *config.Config) { c.ArtifactURL = "file://server/share" }, "artifact_url: file URL must name an absolute directory"},
		{"s3 no bucket", func(c *config.Config) { c.ArtifactURL = "s3:///prefix" }, "artifact_url: s3 URL must name a bucket"},
		{"s3 bad bucket", func(c *config.Config) { c.ArtifactURL = "s3://My_Bucket/x" }, `artifact_url: invalid bucket name "My_Bucket"`},
		{"s3 credentials in URL", func(c *config.Config) { c.ArtifactURL = "s3://ak:sk@bucket/x" }, "artifact_url: s3 URL must not contain credentials"},
		{"addr without port", func(c *config.Config) { c.Server.Addr = "localhost" }, "server.addr:"},
		{"addr bad port", func(c *config.Config) { c.Server.Addr = "localhost:http" }, `server.addr: invalid port "http"`},
		{"addr port range", func(c *config.Config) { c.Server.Addr = ":70000" }, `server.addr: invalid port "70000"`},
		{"zero read timeout", func(c *config.Config) { c.Server.ReadTimeout = 0 }, "server.read_timeout: must be a positive duration"},
		{"negative write timeout", func(c *config.Config) { c.Server.WriteTimeout = -time.Second }, "server.write_timeout: must be a positive duration"},
		{"zero shutdown timeout", func(c *config.Config) { c.Server.ShutdownTimeout = 0 }, "server.shutdown_timeout: must be a positive duration"},
		{"zero body limit", func(c *config.Config) { c.Server.MaxRequestBytes = 0 }, "server.max_request_bytes: must be positive"},
		{"synchronous off", func(c *config.Config) { c.SQLite.Synchronous = "off" }, `sqlite.synchronous: unsupported value "off"`},
		{"synchronous upper case", func(c *config.Config) { c.SQLite.Synchronous = "FULL" }, `sqlite.synchronous: unsupported value "FULL"`},
		{"secret without access key", func(c *config.Config) { c.S3.SecretKey = "s" }, "s3: access_key and secret_key must be set together"},
		{"endpoint scheme", func(c *config.Config) { c.S3.Endpoint = "ftp://minio:9000" }, "s3.endpoint: must be host[:port]"},
		{"endpoint path", func(c *config.Config) { c.S3.Endpoint = "http://minio:9000/bucket" }, "s3.endpoint: must be host[:port]"},
		{"log level", func(c *config.Config) { c.Log.Level = "trace" }, `log.level: unsupported level "trace"`},
		{"log format", func(c *config.Config) { c.Log.Format = "logfmt" }, `log.format: unsupported format "logfmt"`},
	}
	for _, tt := range invalid {
		t.Run("invalid/"+tt.name, func(t *testing.T) {
			c := config.Default()
			tt.modify(&c)
			err := c.Validate()
			var verr *config.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Validate() = %v, want *ValidationError", err)
			}
			if len(verr.Problems) != 1 || !strings.HasPrefix(verr.Problems[0], tt.want) {
				t.Errorf("problems = %q, want one starting with %q", verr.Problems, tt.want)
			}
			// Resolved leaves invalid values alone, so the same problem remains.
			if err := c.Resolved().Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Resolved().Validate() = %v, want it to contain %q", err, tt.want)
			}
		})
	}

	t.Run("every problem collected", func(t *testing.T) {
		c := config.Config{
			StoreURL:    "mysql://root:hunter2@db/ferry",
			ArtifactURL: "gs://b/x",
			Server: config.ServerConfig{
				Addr:            "nope",
				ReadTimeout:     0,
				WriteTimeout:    -1,
				ShutdownTimeout: 0,
				MaxRequestBytes: -5,
			},
			SQLite: config.SQLiteConfig{Synchronous: "extra"},
			S3:     config.S3Config{Endpoint: "ftp://x", AccessKey: "a"},
			Log:    config.LogConfig{Level: "loud", Format: "xml"},
		}
		err := c.Validate()
		var verr *config.ValidationError
		if !errors.As(err, &verr) {
			t.Fatalf("Validate() = %v, want *ValidationError", err)
		}
		fields := []string{
			"data_dir:", "store_url:", "artifact_url:", "server.addr:",
			"server.read_timeout:", "server.write_timeout:", "server.shutdown_timeout:",
			"server.max_request_bytes:", "sqlite.synchronous:", "s3:", "s3.endpoint:",
			"log.level:", "log.format:",
		}
		if len(verr.Problems) != len(fields) {
			t.Errorf("got %d problems, want %d:\n%s", len(verr.Problems), len(fields), strings.Join(verr.Problems, "\n"))
		}
		for i, f := range fields {
			if i < len(verr.Problems) && !strings.HasPrefix(verr.Problems[i], f) {
				t.Errorf("problem %d = %q, want prefix %q", i, verr.Problems[i], f)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error reveals the password: %v", err)
		}
	})

	t.Run("malformed URL does not reveal password", func(t *testing.T) {
		c := config.Default()
		c.StoreURL = "postgres://u:hunter2@db:port/x"
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "store_url: malformed URL") {
			t.Fatalf("Validate() = %v, want malformed URL problem", err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error reveals the password: %v", err)
		}
	})
}

func TestSQLitePath(t *testing.T) {
	tests := []struct {
		url    string
		want   string
		wantOK bool
	}{
		{"sqlite:///abs/path/ferry.db", "/abs/path/ferry.db", true},
		{"sqlite:/abs/ferry.db", "/abs/ferry.db", true},
		{"sqlite:////abs/ferry.db", "/abs/ferry.db", true},
		{"SQLITE:///abs/ferry.db", "/abs/ferry.db", true},
		{"sqlite:///abs/with%20space.db", "/abs/with space.db", true},
		{"sqlite:ferry.db", "ferry.db", true},
		{"sqlite:rel/dir/ferry.db", "rel/dir/ferry.db", true},
		{"sqlite:./rel/ferry.db", "rel/ferry.db", true},
		{"sqlite://./rel/ferry.db", "rel/ferry.db", true},
		{"sqlite://./ferry.db", "ferry.db", true},
		{"sqlite://rel/ferry.db", "", false},
		{"sqlite://localhost/abs.db", "", false},
		{"sqlite://", "", false},
		{"sqlite:", "", false},
		{"sqlite:///", "", false},
		{"sqlite:///dir/", "", false},
		{"sqlite:///..", "", false},
		{"sqlite://.", "", false},
		{"sqlite:///x.db?mode=ro", "", false},
		{"sqlite:///x.db#frag", "", false},
		{"sqlite://u:p@/x.db", "", false},
		{"postgres://db/x", "", false},
		{"/plain/path.db", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, ok := config.SQLitePath(tt.url)
			if got != filepath.FromSlash(tt.want) || ok != tt.wantOK {
				t.Errorf("SQLitePath(%q) = %q, %v; want %q, %v", tt.url, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestResolved(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	// The working directory may be reached through a symlink (macOS /tmp);
	// Abs uses the path as the process sees it.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		modify func(c *config.Config)
		want   func(c *config.Config)
	}{
		{
			name:   "defaults derive from data dir",
			modify: func(*config.Config) {},
			want: func(c *config.Config) {
				c.DataDir = filepath.Join(wd, ".ferry")
				c.StoreURL = "sqlite://" + filepath.ToSlash(filepath.Join(wd, ".ferry", "ferry.db"))
				c.ArtifactURL = "file://" + filepath.ToSlash(filepath.Join(wd, ".ferry", "artifacts"))
			},
		},
		{
			name: "explicit URLs are kept",
			modify: func(c *config.Config) {
				c.DataDir = "/var/lib/ferry"
				c.StoreURL = "postgres://u:p@db/ferry"
				c.ArtifactURL = "s3://bucket/prefix"
			},
			want: func(c *config.Config) {
				c.DataDir = filepath.FromSlash("/var/lib/ferry")
				if abs, err := filepath.Abs(c.DataDir); err == nil {
					c.DataDir = abs
				}
				c.StoreURL = "postgres://u:p@db/ferry"
				c.ArtifactURL = "s3://bucket/prefix"
			},
		},
		{
			name:   "relative sqlite becomes absolute",
			modify: func(c *config.Config) { c.DataDir = "/d"; c.StoreURL = "sqlite://./db/my ferry.db" },
			want: func(c *config.Config) {
				c.DataDir, _ = filepath.Abs("/d")
				c.StoreURL = "sqlite://" + strings.ReplaceAll(filepath.ToSlash(filepath.Join(wd, "db", "my ferry.db")), " ", "%20")
				c.ArtifactURL = "file://" + filepath.ToSlash(filepath.Join(c.DataDir, "artifacts"))
			},
		},
		{
			name:   "http endpoint turns SSL off",
			modify: func(c *config.Config) { c.DataDir = "/d"; c.S3.Endpoint = "http://minio:9000" },
			want: func(c *config.Config) {
				c.DataDir, _ = filepath.Abs("/d")
				c.StoreURL = "sqlite://" + filepath.ToSlash(filepath.Join(c.DataDir, "ferry.db"))
				c.ArtifactURL = "file://" + filepath.ToSlash(filepath.Join(c.DataDir, "artifacts"))
				c.S3.Endpoint, c.S3.UseSSL = "minio:9000", false
			},
		},
		{
			name: "https endpoint turns SSL on",
			modify: func(c *config.Config) {
				c.DataDir = "/d"
				c.S3.Endpoint, c.S3.UseSSL = "https://s3.example.com/", false
			},
			want: func(c *config.Config) {
				c.DataDir, _ = filepath.Abs("/d")
				c.StoreURL = "sqlite://" + filepath.ToSlash(filepath.Join(c.DataDir, "ferry.db"))
				c.ArtifactURL = "file://" + filepath.ToSlash(filepath.Join(c.DataDir, "artifacts"))
				c.S3.Endpoint, c.S3.UseSSL = "s3.example.com", true
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.modify(&c)
			before := c
			want := c
			tt.want(&want)

			got := c.Resolved()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Resolved() =\n%+v\nwant\n%+v", got, want)
			}
			if again := got.Resolved(); !reflect.DeepEqual(again, got) {
				t.Errorf("Resolved is not idempotent:\n%+v\nthen\n%+v", got, again)
			}
			if !reflect.DeepEqual(c, before) {
				t.Errorf("Resolved modified its receiver")
			}
			if p, ok := config.SQLitePath(got.StoreURL); strings.HasPrefix(got.StoreURL, "sqlite:") && (!ok || !filepath.IsAbs(p)) {
				t.Errorf("resolved store URL %q is not an absolute sqlite path", got.StoreURL)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *config.Config)
		want   func(c *config.Config)
	}{
		{
			name:   "nothing secret",
			modify: func(c *config.Config) { c.StoreURL = "postgres://ferry@db/ferry?sslmode=require" },
			want:   func(*config.Config) {},
		},
		{
			name:   "store password",
			modify: func(c *config.Config) { c.StoreURL = "postgres://ferry:hunter2@db:5432/ferry" },
			want:   func(c *config.Config) { c.StoreURL = "postgres://ferry:REDACTED@db:5432/ferry" },
		},
		{
			name: "secret query parameters keep order",
			modify: func(c *config.Config) {
				c.StoreURL = "postgresql://db/ferry?user=u&password=p%40ss&sslmode=verify-full&sslpassword=k&Token=t"
			},
			want: func(c *config.Config) {
				c.StoreURL = "postgresql://db/ferry?user=u&password=REDACTED&sslmode=verify-full&sslpassword=REDACTED&Token=REDACTED"
			},
		},
		{
			name: "artifact URL secrets",
			modify: func(c *config.Config) {
				c.ArtifactURL = "s3://bucket/p?X-Amz-Security-Token=abc&client_secret=def&region=x"
			},
			want: func(c *config.Config) {
				c.ArtifactURL = "s3://bucket/p?X-Amz-Security-Token=REDACTED&client_secret=REDACTED&region=x"
			},
		},
		{
			name:   "S3 secret key",
			modify: func(c *config.Config) { c.S3.AccessKey, c.S3.SecretKey = "AKID", "wJalr" },
			want:   func(c *config.Config) { c.S3.SecretKey = "REDACTED" },
		},
		{
			name:   "S3 endpoint credentials",
			modify: func(c *config.Config) { c.S3.Endpoint = "http://u:pw@minio:9000" },
			want:   func(c *config.Config) { c.S3.Endpoint = "http://u:REDACTED@minio:9000" },
		},
		{
			name:   "unparseable store URL is hidden whole",
			modify: func(c *config.Config) { c.StoreURL = "postgres://u:hunter2@db:port/x" },
			want:   func(c *config.Config) { c.StoreURL = "REDACTED" },
		},
		{
			name:   "keyword DSN is hidden whole",
			modify: func(c *config.Config) { c.StoreURL = "host=db user=u password=hunter2" },
			want:   func(c *config.Config) { c.StoreURL = "REDACTED" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.modify(&c)
			orig := c
			want := c
			tt.want(&want)

			got := c.Redacted()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Redacted() =\n%+v\nwant\n%+v", got, want)
			}
			if !reflect.DeepEqual(c, orig) {
				t.Errorf("Redacted modified the original:\n%+v\nwas\n%+v", c, orig)
			}
			for _, secret := range []string{"hunter2", "wJalr", "p%40ss", "abc", "def"} {
				if strings.Contains(got.StoreURL+got.ArtifactURL+got.S3.SecretKey+got.S3.Endpoint, secret) {
					t.Errorf("redacted config still contains %q", secret)
				}
			}
		})
	}
}

// goldenConfig has a value in every field and a secret in every place one can be.
func goldenConfig() config.Config {
	c := config.Default()
	c.DataDir = "/var/lib/ferry"
	c.StoreURL = "postgres://ferry:hunter2@db.internal:5432/ferry?sslmode=verify-full&sslpassword=keypass"
	c.ArtifactURL = "s3://ml-artifacts/ferry"
	c.Server.Addr = "0.0.0.0:5000"
	c.Server.ReadTimeout = 90 * time.Second
	c.SQLite.Synchronous = "normal"
	c.S3 = config.S3Config{Endpoint: "minio.internal:9000", Region: "eu-west-1", AccessKey: "AKIAEXAMPLE", SecretKey: "wJalrXUtnFEMI", UseSSL: false}
	c.Log = config.LogConfig{Level: "debug", Format: "json"}
	return c
}

func TestYAMLGolden(t *testing.T) {
	c := goldenConfig()
	got, err := c.Redacted().YAML()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "redacted.golden.yaml")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/config -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("YAML of redacted config differs from %s (run with -update if intended)\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
	for _, secret := range []string{"hunter2", "keypass", "wJalrXUtnFEMI"} {
		if bytes.Contains(got, []byte(secret)) {
			t.Errorf("YAML reveals %q", secret)
		}
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	c := goldenConfig()
	data, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.Load(writeFile(t, string(data)), nil)
	if err != nil {
		t.Fatalf("Load of YAML() output: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip =\n%+v\nwant\n%+v", got, c)
	}
}

func TestLogger(t *testing.T) {
	t.Run("text filters below level", func(t *testing.T) {
		c := config.Default()
		c.Log.Level = "warn"
		var buf bytes.Buffer
		log, err := c.Logger(&buf)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("hidden")
		log.Warn("shown", "run_id", "r1")
		out := buf.String()
		if strings.Contains(out, "hidden") || !strings.Contains(out, "msg=shown run_id=r1") {
			t.Errorf("output = %q", out)
		}
	})
	t.Run("json", func(t *testing.T) {
		c := config.Default()
		c.Log = config.LogConfig{Level: "debug", Format: "json"}
		var buf bytes.Buffer
		log, err := c.Logger(&buf)
		if err != nil {
			t.Fatal(err)
		}
		log.Debug("hello", "model", "m")
		var rec map[string]any
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatalf("not JSON: %q: %v", buf.String(), err)
		}
		if rec["msg"] != "hello" || rec["level"] != "DEBUG" || rec["model"] != "m" {
			t.Errorf("record = %v", rec)
		}
	})
	for _, tt := range []struct{ name, level, format, want string }{
		{"bad level", "verbose", "text", "log.level"},
		{"bad format", "info", "yaml", "log.format"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			c.Log = config.LogConfig{Level: tt.level, Format: tt.format}
			if _, err := c.Logger(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Logger() error = %v, want it to mention %s", err, tt.want)
			}
		})
	}
}
