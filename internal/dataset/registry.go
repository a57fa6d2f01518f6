package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/blob"
)

// Registry registers data files as immutable, content-addressed asset
// versions, keeps their bytes in the artifact store, and resolves
// data:/name/version references to local files.
type Registry struct {
	store AssetStore
	blobs blob.Store
	cache string
	now   func() time.Time
}

// NewRegistry returns a registry over store and blobs that caches downloaded
// versions under cacheDir.
func NewRegistry(store AssetStore, blobs blob.Store, cacheDir string) *Registry {
	return &Registry{store: store, blobs: blobs, cache: cacheDir, now: time.Now}
}

var assetName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// CreateOptions describe a new data asset version.
type CreateOptions struct {
	Description string
	// Source records where the bytes came from (default: the file's absolute
	// path); its base name names the stored file and its extension the
	// format.
	Source string
}

// Create registers the file at path as a version of the asset name: reads it
// (so a malformed file is rejected before anything is stored), computes its
// digest, schema and profile, copies its bytes into the artifact store and
// records the version, created by the principal in ctx. The same bytes again
// return the existing version with created false.
func (r *Registry) Create(ctx context.Context, name, path string, opts CreateOptions) (Asset, bool, error) {
	if !assetName.MatchString(name) {
		return Asset{}, false, ferry.Errorf(ferry.EINVALID, "data asset name %q: use 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit", name)
	}
	st, err := os.Stat(path)
	if err != nil {
		return Asset{}, false, ferry.Errorf(ferry.EINVALID, "data file %s: %v", path, err)
	}
	hexDigest, err := FileDigest(ctx, path)
	if err != nil {
		return Asset{}, false, err
	}
	digest := "sha256:" + hexDigest
	frame, err := Read(ctx, path, ReadOptions{})
	if err != nil {
		return Asset{}, false, err
	}
	schema, err := json.Marshal(frame.Schema())
	if err != nil {
		return Asset{}, false, err
	}
	profile, err := json.Marshal(frame.Profile())
	if err != nil {
		return Asset{}, false, err
	}
	source := opts.Source
	if source == "" {
		source, _ = filepath.Abs(path)
	}
	base := filepath.Base(filepath.FromSlash(source))
	key := "datasets/" + name + "/" + hexDigest + "/" + base
	if _, err := r.blobs.Stat(ctx, key); ferry.ErrorCode(err) == ferry.ENOTFOUND {
		f, err := os.Open(path)
		if err != nil {
			return Asset{}, false, err
		}
		_, err = r.blobs.Put(ctx, key, f)
		f.Close()
		if err != nil {
			return Asset{}, false, fmt.Errorf("dataset: store %s: %w", name, err)
		}
	} else if err != nil {
		return Asset{}, false, err
	}
	a := Asset{
		Name: name, URI: key, Source: source, Digest: digest, Format: formatOf(base), Rows: int64(frame.Len()), Size: st.Size(),
		Schema: schema, Profile: profile, Description: opts.Description, CreatedBy: auth.PrincipalFrom(ctx), CreatedAt: r.now().UnixMilli(),
	}
	return r.store.CreateAsset(ctx, a)
}

// Import registers the bytes read from src as a version of the asset name,
// as Create does for a file; opts.Source names them (its extension says the
// format, e.g. "flights.parquet"). The bytes are staged in the cache
// directory and removed afterwards.
func (r *Registry) Import(ctx context.Context, name string, src io.Reader, opts CreateOptions) (Asset, bool, error) {
	if opts.Source == "" {
		return Asset{}, false, ferry.Errorf(ferry.EINVALID, "data asset %s: name the uploaded file (its extension says the format)", name)
	}
	if err := os.MkdirAll(r.cache, 0o755); err != nil {
		return Asset{}, false, fmt.Errorf("dataset: import %s: %w", name, err)
	}
	dir, err := os.MkdirTemp(r.cache, "import-")
	if err != nil {
		return Asset{}, false, fmt.Errorf("dataset: import %s: %w", name, err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, filepath.Base(filepath.FromSlash(opts.Source)))
	f, err := os.Create(path)
	if err != nil {
		return Asset{}, false, fmt.Errorf("dataset: import %s: %w", name, err)
	}
	_, err = io.Copy(f, src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Asset{}, false, fmt.Errorf("dataset: import %s: %w", name, err)
	}
	return r.Create(ctx, name, path, opts)
}

// Open returns the bytes of the version a, as stored.
func (r *Registry) Open(ctx context.Context, a Asset) (io.ReadCloser, error) {
	rc, _, err := r.blobs.Get(ctx, a.URI)
	if err != nil {
		return nil, fmt.Errorf("dataset: open %s v%d: %w", a.Name, a.Version, err)
	}
	return rc, nil
}

func formatOf(path string) string {
	p := strings.TrimSuffix(strings.ToLower(path), ".gz")
	switch {
	case strings.HasSuffix(p, ".parquet"):
		return "parquet"
	case strings.HasSuffix(p, ".jsonl"), strings.HasSuffix(p, ".ndjson"):
		return "jsonl"
	}
	return "csv"
}

// ParseRef parses data:/name/version, data:/name (the latest) or
// data:/name@latest; version 0 means the latest.
func ParseRef(ref string) (name string, version int, err error) {
	rest, ok := strings.CutPrefix(ref, "data:/")
	if !ok {
		return "", 0, ferry.Errorf(ferry.EINVALID, "data reference %q: want data:/name/version or data:/name", ref)
	}
	name, v, hasVersion := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	name = strings.TrimSuffix(name, "@latest")
	if hasVersion && v != "latest" {
		if version, err = strconv.Atoi(v); err != nil || version < 1 {
			return "", 0, ferry.Errorf(ferry.EINVALID, "data reference %q: version %q is not a positive number", ref, v)
		}
	}
	if !assetName.MatchString(name) {
		return "", 0, ferry.Errorf(ferry.EINVALID, "data reference %q: %q is not a data asset name", ref, name)
	}
	return name, version, nil
}

// Get returns a version of an asset; version 0 means the latest.
func (r *Registry) Get(ctx context.Context, name string, version int) (Asset, error) {
	return r.store.GetAsset(ctx, name, version)
}

// List returns the latest version of every asset.
func (r *Registry) List(ctx context.Context) ([]Asset, error) { return r.store.ListAssets(ctx) }

// Versions returns every version of an asset, newest first.
func (r *Registry) Versions(ctx context.Context, name string) ([]Asset, error) {
	return r.store.ListAssetVersions(ctx, name)
}

// ResolveData returns a local file holding the bytes of the version ref names,
// downloading it into the cache (and checking its digest) when needed.
func (r *Registry) ResolveData(ctx context.Context, ref string) (string, Asset, error) {
	name, version, err := ParseRef(ref)
	if err != nil {
		return "", Asset{}, err
	}
	a, err := r.store.GetAsset(ctx, name, version)
	if err != nil {
		return "", Asset{}, err
	}
	local := filepath.Join(r.cache, strings.TrimPrefix(a.Digest, "sha256:"), filepath.Base(a.URI))
	if _, err := os.Stat(local); err == nil {
		return local, a, nil
	}
	if err := r.download(ctx, a, local); err != nil {
		return "", Asset{}, err
	}
	return local, a, nil
}

func (r *Registry) download(ctx context.Context, a Asset, local string) error {
	rc, _, err := r.blobs.Get(ctx, a.URI)
	if err != nil {
		return fmt.Errorf("dataset: fetch %s v%d: %w", a.Name, a.Version, err)
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(local), ".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), rc); err != nil {
		tmp.Close()
		return fmt.Errorf("dataset: fetch %s v%d: %w", a.Name, a.Version, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != a.Digest {
		return ferry.Errorf(ferry.EINVALID, "data asset %s v%d: stored bytes have digest %s, not %s (corrupt artifact store?)", a.Name, a.Version, got, a.Digest)
	}
	return os.Rename(tmp.Name(), local)
}
