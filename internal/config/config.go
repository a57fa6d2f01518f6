// Package config holds Ferry's one configuration struct: its defaults, how a YAML
// file and FERRY_* environment variables are layered over them, validation that
// reports every problem at once, and a redacted copy that is safe to print.
//
// The package reads no environment and holds no state: Load takes the file path and
// the environment as arguments (the caller passes os.Environ()), and every function
// returns a new value. A Config has no reference-typed fields, so copies are
// independent and safe to share between goroutines.
//
// The usual sequence in the composition root is:
//
//	cfg, err := config.Load(path, os.Environ())
//	if err != nil { ... }
//	if err := cfg.Validate(); err != nil { ... }
//	cfg = cfg.Resolved()
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-ml/ferry/internal/yamlfile"
)

// Redaction is the text that replaces secrets in a Redacted config.
const Redaction = "REDACTED"

// Default values. DefaultStoreURL and DefaultArtifactURL are not constants because
// they derive from DataDir; see Config.Resolved.
const (
	DefaultDataDir         = ".ferry"
	DefaultAddr            = "127.0.0.1:5000"
	DefaultReadTimeout     = 5 * time.Minute
	DefaultWriteTimeout    = 5 * time.Minute
	DefaultShutdownTimeout = 30 * time.Second
	DefaultMaxRequestBytes = 16 << 20 // 16 MiB
	DefaultSynchronous     = "full"
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "text"
)

// Config is the whole configuration of a Ferry process. The zero value is not
// useful; start from Default or Load.
type Config struct {
	// DataDir holds the embedded database and the local artifacts unless
	// StoreURL or ArtifactURL say otherwise. Default ".ferry", relative to the
	// working directory; "~" is not expanded.
	DataDir string `yaml:"data_dir"`

	// StoreURL selects the metadata store. Empty means
	// sqlite:///<abs DataDir>/ferry.db. Accepted forms are those of SQLitePath
	// (sqlite:///abs/path.db, sqlite:rel/path.db, sqlite://./rel/path.db) and
	// postgres://... or postgresql://... in the form pgx accepts. It may hold a
	// password; Redacted hides it.
	StoreURL string `yaml:"store_url"`

	// ArtifactURL selects where artifact bytes live. Empty means
	// file:///<abs DataDir>/artifacts. Accepted: file:///abs/dir (also
	// file://localhost/abs/dir) and s3://bucket[/prefix]; S3 settings come from
	// the S3 section.
	ArtifactURL string `yaml:"artifact_url"`

	// PolicyFile is a YAML file of promotion rules for the model registry
	// (see internal/registry.Policy); empty means no rules.
	PolicyFile string `yaml:"policy_file"`

	Server ServerConfig `yaml:"server"`
	SQLite SQLiteConfig `yaml:"sqlite"`
	S3     S3Config     `yaml:"s3"`
	Log    LogConfig    `yaml:"log"`
}

// ServerConfig configures the HTTP server. Durations are written in YAML as Go
// duration strings ("30s", "5m"); bare numbers are rejected because their unit
// would be ambiguous.
type ServerConfig struct {
	// Addr is the host:port to listen on; default 127.0.0.1:5000. Port 0 picks
	// a free port; an empty host listens on every interface.
	Addr string `yaml:"addr"`
	// ReadTimeout bounds reading a whole request, body included, so it also
	// bounds artifact uploads; default 5m.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing a whole response, so it also bounds artifact
	// downloads; default 5m.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// ShutdownTimeout bounds the graceful drain on shutdown; default 30s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxRequestBytes caps JSON API request bodies; default 16 MiB. Artifact
	// uploads are streamed and not bound by it.
	MaxRequestBytes int64 `yaml:"max_request_bytes"`
}

// SQLiteConfig configures the embedded SQLite store.
type SQLiteConfig struct {
	// Synchronous is SQLite's synchronous pragma: "full" (default;
	// acknowledged writes survive power loss) or "normal" (acknowledged writes
	// survive a process crash but the last ones may be lost on power loss).
	Synchronous string `yaml:"synchronous"`
}

// S3Config configures S3-compatible artifact storage. Empty credentials leave the
// choice to the S3 client's default chain (instance role, shared files).
type S3Config struct {
	// Endpoint is host[:port] or http(s)://host[:port]; empty means AWS. When
	// it carries a scheme, the scheme decides UseSSL (see Resolved).
	Endpoint string `yaml:"endpoint"`
	Region   string `yaml:"region"`
	// AccessKey and SecretKey are set together or not at all. SecretKey is a
	// secret; Redacted hides it.
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	// UseSSL selects https for Endpoint; default true.
	UseSSL bool `yaml:"use_ssl"`
}

// LogConfig configures the process logger; see Config.Logger.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info (default), warn or error
	Format string `yaml:"format"` // text (default) or json
}

// Default returns the built-in configuration: what Load returns with no file and
// no FERRY_* variables. StoreURL and ArtifactURL are empty, meaning "derive from
// DataDir"; Resolved fills them.
func Default() Config {
	return Config{
		DataDir: DefaultDataDir,
		Server: ServerConfig{
			Addr:            DefaultAddr,
			ReadTimeout:     DefaultReadTimeout,
			WriteTimeout:    DefaultWriteTimeout,
			ShutdownTimeout: DefaultShutdownTimeout,
			MaxRequestBytes: DefaultMaxRequestBytes,
		},
		SQLite: SQLiteConfig{Synchronous: DefaultSynchronous},
		S3:     S3Config{UseSSL: true},
		Log:    LogConfig{Level: DefaultLogLevel, Format: DefaultLogFormat},
	}
}

// ValidationError lists every problem found in a configuration. Each problem
// names the offending field (as its YAML path, e.g. "server.addr") or environment
// variable, followed by what is wrong and how to fix it. Messages never contain
// secrets.
type ValidationError struct {
	Problems []string
}

// Error joins the problems on one line.
func (e *ValidationError) Error() string {
	return "invalid configuration: " + strings.Join(e.Problems, "; ")
}

// problems collects ValidationError entries.
type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Problems: p}
}

// Load returns Default() overlaid first with the YAML file at path (skipped when
// path is "") and then with the environment env, given as "KEY=VALUE" entries like
// os.Environ(). Load does not validate or resolve; call Validate and Resolved.
//
// The file must exist: a missing file is an error wrapping fs.ErrNotExist (callers
// that look for an optional default path should check for it first). Keys the file
// does not mention keep their defaults; an unknown key is an error naming it.
//
// Environment variables override the file. They are FERRY_DATA_DIR,
// FERRY_STORE_URL, FERRY_ARTIFACT_URL, FERRY_ADDR, FERRY_MAX_REQUEST_BYTES (a plain
// integer of bytes), FERRY_SQLITE_SYNCHRONOUS, FERRY_LOG_LEVEL, FERRY_LOG_FORMAT,
// FERRY_S3_ENDPOINT, FERRY_S3_REGION, FERRY_S3_ACCESS_KEY, FERRY_S3_SECRET_KEY and
// FERRY_S3_USE_SSL (a strconv.ParseBool value). A variable set to the empty
// string counts as unset; when a key appears more than once the last entry wins.
//
// The conventional S3 variables are fallbacks only: each fills its field when
// neither the file nor a FERRY_* variable set it. They are, in order of
// preference, MLFLOW_S3_ENDPOINT_URL, AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL for
// s3.endpoint; AWS_REGION and AWS_DEFAULT_REGION for s3.region; AWS_ACCESS_KEY_ID
// for s3.access_key; AWS_SECRET_ACCESS_KEY for s3.secret_key.
//
// Values that cannot be parsed yield a *ValidationError naming every such
// variable.
func Load(path string, env []string) (Config, error) {
	cfg := Default()
	if path != "" {
		if err := cfg.mergeFile(path); err != nil {
			return Config{}, err
		}
	}
	if err := cfg.mergeEnv(env); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// mergeFile decodes the YAML file at path over c, rejecting unknown fields.
func (c *Config) mergeFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := yamlfile.Decode(data, path, c); err != nil {
		return fmt.Errorf("config: parse %w", err)
	}
	return nil
}

// mergeEnv applies FERRY_* variables and then the S3 fallbacks.
func (c *Config) mergeEnv(env []string) error {
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && v != "" {
			vars[k] = v
		}
	}
	var p problems

	setString := func(key string, dst *string) {
		if v, ok := vars[key]; ok {
			*dst = v
		}
	}
	setString("FERRY_DATA_DIR", &c.DataDir)
	setString("FERRY_STORE_URL", &c.StoreURL)
	setString("FERRY_ARTIFACT_URL", &c.ArtifactURL)
	setString("FERRY_POLICY_FILE", &c.PolicyFile)
	setString("FERRY_ADDR", &c.Server.Addr)
	setString("FERRY_SQLITE_SYNCHRONOUS", &c.SQLite.Synchronous)
	setString("FERRY_LOG_LEVEL", &c.Log.Level)
	setString("FERRY_LOG_FORMAT", &c.Log.Format)
	setString("FERRY_S3_ENDPOINT", &c.S3.Endpoint)
	setString("FERRY_S3_REGION", &c.S3.Region)
	setString("FERRY_S3_ACCESS_KEY", &c.S3.AccessKey)
	setString("FERRY_S3_SECRET_KEY", &c.S3.SecretKey)

	if v, ok := vars["FERRY_MAX_REQUEST_BYTES"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			p.add("FERRY_MAX_REQUEST_BYTES", "%q is not an integer number of bytes", v)
		} else {
			c.Server.MaxRequestBytes = n
		}
	}
	if v, ok := vars["FERRY_S3_USE_SSL"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			p.add("FERRY_S3_USE_SSL", "%q is not a boolean; use true or false", v)
		} else {
			c.S3.UseSSL = b
		}
	}

	fallback := func(dst *string, keys ...string) {
		if *dst != "" {
			return
		}
		for _, k := range keys {
			if v, ok := vars[k]; ok {
				*dst = v
				return
			}
		}
	}
	fallback(&c.S3.Endpoint, "MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	fallback(&c.S3.Region, "AWS_REGION", "AWS_DEFAULT_REGION")
	fallback(&c.S3.AccessKey, "AWS_ACCESS_KEY_ID")
	fallback(&c.S3.SecretKey, "AWS_SECRET_ACCESS_KEY")

	return p.err()
}

// Validate checks every field and returns nil or a *ValidationError listing all
// problems found. It accepts a config before or after Resolved. It does no I/O:
// it does not check that directories exist or that servers are reachable.
func (c Config) Validate() error {
	var p problems

	if c.DataDir == "" {
		p.add("data_dir", "must not be empty")
	}
	checkStoreURL(&p, c.StoreURL)
	checkArtifactURL(&p, c.ArtifactURL)

	checkAddr(&p, c.Server.Addr)
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"server.read_timeout", c.Server.ReadTimeout},
		{"server.write_timeout", c.Server.WriteTimeout},
		{"server.shutdown_timeout", c.Server.ShutdownTimeout},
	} {
		if d.v <= 0 {
			p.add(d.field, "must be a positive duration such as \"30s\", got %s", d.v)
		}
	}
	if c.Server.MaxRequestBytes <= 0 {
		p.add("server.max_request_bytes", "must be positive, got %d", c.Server.MaxRequestBytes)
	}

	switch c.SQLite.Synchronous {
	case "full", "normal":
	default:
		p.add("sqlite.synchronous", "unsupported value %q; use \"full\" or \"normal\"", c.SQLite.Synchronous)
	}

	checkS3(&p, c.S3)

	if _, err := parseLevel(c.Log.Level); err != nil {
		p.add("log.level", "%v", err)
	}
	if err := checkFormat(c.Log.Format); err != nil {
		p.add("log.format", "%v", err)
	}
	return p.err()
}

// parseURL parses s without letting url.Parse's error, which quotes the whole URL
// and so any password in it, reach a message.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return nil, uerr.Err
		}
		return nil, errors.New("malformed URL")
	}
	return u, nil
}

func checkStoreURL(p *problems, s string) {
	const field, hint = "store_url", "use sqlite:///path or postgres://..."
	if s == "" {
		return
	}
	u, err := parseURL(s)
	if err != nil {
		p.add(field, "malformed URL: %v; %s", err, hint)
		return
	}
	switch u.Scheme {
	case "sqlite":
		if _, ok := SQLitePath(s); !ok {
			p.add(field, "malformed sqlite URL; use sqlite:///abs/path.db, sqlite:rel/path.db or sqlite://./rel/path.db, without query parameters (set sqlite.synchronous instead)")
		}
	case "postgres", "postgresql":
		if u.Opaque != "" {
			p.add(field, "malformed postgres URL; use postgres://user:password@host:port/dbname")
		}
	case "":
		p.add(field, "missing scheme; %s", hint)
	default:
		p.add(field, "unsupported scheme %q; %s", u.Scheme, hint)
	}
}

func checkArtifactURL(p *problems, s string) {
	const field, hint = "artifact_url", "use file:///abs/dir or s3://bucket/prefix"
	if s == "" {
		return
	}
	u, err := parseURL(s)
	if err != nil {
		p.add(field, "malformed URL: %v; %s", err, hint)
		return
	}
	switch u.Scheme {
	case "file":
		if _, ok := filePath(u); !ok {
			p.add(field, "file URL must name an absolute directory without query or fragment, as file:///abs/dir")
		}
	case "s3":
		switch {
		case u.User != nil:
			p.add(field, "s3 URL must not contain credentials; set s3.access_key and s3.secret_key")
		case u.Opaque != "" || u.Host == "":
			p.add(field, "s3 URL must name a bucket, as s3://bucket/prefix")
		case !validBucket(u.Host):
			p.add(field, "invalid bucket name %q; use 3-63 lowercase letters, digits, dots and hyphens", u.Host)
		}
	case "":
		p.add(field, "missing scheme; %s", hint)
	default:
		p.add(field, "unsupported scheme %q; %s", u.Scheme, hint)
	}
}

// filePath returns the local directory a file URL names, if it names an absolute
// one: file:///abs/dir, file:/abs/dir or file://localhost/abs/dir.
func filePath(u *url.URL) (string, bool) {
	if u.Opaque != "" || (u.Host != "" && u.Host != "localhost") || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || !strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	return filepath.FromSlash(u.Path), true
}

// validBucket reports whether name follows the S3 bucket naming rules.
func validBucket(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		alnum := ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9'
		if !alnum && ((i == 0 || i == len(name)-1) || (ch != '.' && ch != '-')) {
			return false
		}
	}
	return true
}

func checkAddr(p *problems, addr string) {
	const field = "server.addr"
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(field, "%q is not host:port, as 127.0.0.1:5000 or :5000", addr)
		return
	}
	if strings.ContainsAny(host, " /") {
		p.add(field, "invalid host %q", host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add(field, "invalid port %q; use a number from 0 to 65535", port)
	}
}

func checkS3(p *problems, s S3Config) {
	if (s.AccessKey == "") != (s.SecretKey == "") {
		p.add("s3", "access_key and secret_key must be set together")
	}
	if s.Endpoint == "" {
		return
	}
	if _, _, ok := splitEndpoint(s.Endpoint); !ok {
		// The value is not quoted: a malformed endpoint may carry credentials.
		p.add("s3.endpoint", "must be host[:port] or http(s)://host[:port], as minio:9000")
	}
}

// splitEndpoint parses an S3 endpoint written as host[:port] or
// http(s)://host[:port][/]. It returns the host[:port] and whether the scheme was
// https (false when there was none).
func splitEndpoint(endpoint string) (host string, https, ok bool) {
	scheme, rest, hasScheme := strings.Cut(endpoint, "://")
	if !hasScheme {
		rest = endpoint
	} else if scheme != "http" && scheme != "https" {
		return "", false, false
	}
	rest = strings.TrimSuffix(rest, "/")
	u, err := url.Parse("//" + rest)
	if err != nil || u.Host == "" || u.Host != rest || u.User != nil {
		return "", false, false
	}
	if hasScheme {
		return u.Host, scheme == "https", true
	}
	return u.Host, false, true
}

// parseLevel maps a log.level value to a slog.Level.
func parseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unsupported level %q; use debug, info, warn or error", s)
}

func checkFormat(s string) error {
	if s == "text" || s == "json" {
		return nil
	}
	return fmt.Errorf("unsupported format %q; use text or json", s)
}

// SQLitePath returns the database file path named by a sqlite store URL and true,
// or "" and false if storeURL is not a well-formed sqlite URL. Accepted forms:
//
//	sqlite:///abs/path/ferry.db   → /abs/path/ferry.db (also sqlite:/abs/... and sqlite:////abs/...)
//	sqlite:rel/path/ferry.db      → rel/path/ferry.db, relative to the working directory
//	sqlite://./rel/path/ferry.db  → rel/path/ferry.db, relative to the working directory
//
// Percent-escapes are decoded and the path is cleaned. Rejected: any other host
// (sqlite://rel/path is ambiguous), user info, query parameters, fragments, and
// paths that name a directory. Note that, unlike SQLAlchemy (and so MLflow),
// three slashes start an absolute path: SQLAlchemy's relative sqlite:///mlflow.db
// means /mlflow.db here.
func SQLitePath(storeURL string) (string, bool) {
	u, err := url.Parse(storeURL)
	if err != nil || u.Scheme != "sqlite" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", false
	}
	var p string
	switch {
	case u.Opaque != "":
		if p, err = url.PathUnescape(u.Opaque); err != nil {
			return "", false
		}
	case u.Host == "":
		p = u.Path
	case u.Host == ".":
		p = "." + u.Path
	default:
		return "", false
	}
	if p == "" || strings.HasSuffix(p, "/") {
		return "", false
	}
	p = filepath.Clean(filepath.FromSlash(p))
	switch filepath.Base(p) {
	case ".", "..", string(filepath.Separator):
		return "", false
	}
	return p, true
}

// fileURL returns the URL form of an absolute local path for the given scheme.
func fileURL(scheme, abs string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows volume such as C:/...
	}
	return (&url.URL{Scheme: scheme, Path: p}).String()
}

// absPath returns p made absolute against the working directory, or p cleaned if
// the working directory cannot be determined.
func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}

// Resolved returns a copy with the derived values filled in, so that later changes
// of working directory do not change its meaning:
//
//   - DataDir becomes absolute;
//   - an empty StoreURL becomes sqlite:///<DataDir>/ferry.db, and a relative
//     sqlite URL becomes the absolute sqlite:///... form;
//   - an empty ArtifactURL becomes file:///<DataDir>/artifacts;
//   - an S3 endpoint written with http:// or https:// is reduced to host[:port]
//     and UseSSL is set from its scheme.
//
// Relative paths are resolved against the working directory (if it cannot be
// determined they stay relative). Values that fail Validate are left unchanged, so
// Validate reports the same problems before and after. Resolved is idempotent.
func (c Config) Resolved() Config {
	if c.DataDir != "" {
		c.DataDir = absPath(c.DataDir)
	}
	switch {
	case c.StoreURL == "" && c.DataDir != "":
		c.StoreURL = fileURL("sqlite", filepath.Join(c.DataDir, "ferry.db"))
	case c.StoreURL != "":
		if p, ok := SQLitePath(c.StoreURL); ok && !filepath.IsAbs(p) {
			c.StoreURL = fileURL("sqlite", absPath(p))
		}
	}
	if c.ArtifactURL == "" && c.DataDir != "" {
		c.ArtifactURL = fileURL("file", filepath.Join(c.DataDir, "artifacts"))
	}
	if strings.Contains(c.S3.Endpoint, "://") {
		if host, https, ok := splitEndpoint(c.S3.Endpoint); ok {
			c.S3.Endpoint, c.S3.UseSSL = host, https
		}
	}
	return c
}

// Redacted returns a copy that is safe to show or log: a non-empty S3.SecretKey
// becomes Redaction, and in StoreURL, ArtifactURL and S3.Endpoint a URL password
// and the value of every query parameter whose name contains "password",
// "secret" or "token" (case-insensitive) become Redaction. A StoreURL or
// ArtifactURL that cannot be parsed, or has no scheme, is replaced whole, since
// where its secrets lie cannot be told. c itself is not modified.
func (c Config) Redacted() Config {
	if c.S3.SecretKey != "" {
		c.S3.SecretKey = Redaction
	}
	c.StoreURL = redactURL(c.StoreURL)
	c.ArtifactURL = redactURL(c.ArtifactURL)
	switch {
	case strings.Contains(c.S3.Endpoint, "://"):
		c.S3.Endpoint = redactURL(c.S3.Endpoint)
	case strings.Contains(c.S3.Endpoint, "@"):
		c.S3.Endpoint = Redaction
	}
	return c
}

// redactURL hides the password and secret-looking query values of s.
func redactURL(s string) string {
	if s == "" {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || strings.Contains(u.Opaque, "@") {
		return Redaction
	}
	changed := false
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), Redaction)
			changed = true
		}
	}
	if q, ok := redactQuery(u.RawQuery); ok {
		u.RawQuery = q
		changed = true
	}
	if !changed {
		return s
	}
	return u.String()
}

// redactQuery replaces the values of secret-looking parameters in a raw query,
// keeping the order and encoding of everything else. It reports whether it
// changed anything.
func redactQuery(raw string) (string, bool) {
	if raw == "" {
		return raw, false
	}
	parts := strings.Split(raw, "&")
	changed := false
	for i, part := range parts {
		key, _, hasValue := strings.Cut(part, "=")
		if !hasValue {
			continue
		}
		name, err := url.QueryUnescape(key)
		if err != nil {
			name = key
		}
		name = strings.ToLower(name)
		if strings.Contains(name, "password") || strings.Contains(name, "secret") || strings.Contains(name, "token") {
			parts[i] = key + "=" + Redaction
			changed = true
		}
	}
	return strings.Join(parts, "&"), changed
}

// YAML returns c in the file format Load reads, with every field present and
// durations as strings. It does not redact: call Redacted first before showing
// the result to anyone.
func (c Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return buf.Bytes(), nil
}

// MarshalJSON renders c as YAML does, field names and values alike (so
// durations are "30s", not nanoseconds), as a JSON object.
func (c Config) MarshalJSON() ([]byte, error) {
	b, err := c.YAML()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return json.Marshal(m)
}

// Logger returns a slog.Logger writing to w at the configured level, as logfmt-like
// text or as JSON. It fails only if Log.Level or Log.Format is invalid (which
// Validate also reports). Concurrent use of the logger is safe if writes to w are.
func (c Config) Logger(w io.Writer) (*slog.Logger, error) {
	level, err := parseLevel(c.Log.Level)
	if err != nil {
		return nil, fmt.Errorf("config: log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.Log.Format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("config: log.format: %w", checkFormat(c.Log.Format))
}
