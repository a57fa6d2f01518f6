package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/registry"
)

// VersionSource resolves model URIs to registered versions and fetches their
// packages. registry.Service is one (in the server); a client of a remote
// server is another (in the command line).
type VersionSource interface {
	// Resolve returns the version uri names: models:/name/3,
	// models:/name@alias, models:/name/Stage. Unknown names are ENOTFOUND.
	Resolve(ctx context.Context, uri string) (registry.Version, error)
	// FetchVersion writes v's package into dir (which must not exist) and
	// returns it loaded, every file checked against its digest.
	FetchVersion(ctx context.Context, v registry.Version, dir string) (*model.Package, error)
}

// VersionLoader loads registered versions by URI: it resolves, fetches, verifies and
// loads them with a runtime of Runtimes. It is the one way a version becomes
// a predictor, for serving, batch scoring and validation alike. A VersionLoader is
// safe for concurrent use when its VersionSource is.
type VersionLoader struct {
	Versions VersionSource
	Runtimes Registry
	// Dir holds the fetched packages while their models are loaded
	// ("" means the system's temporary directory).
	Dir string
}

// Loaded is a registered version loaded for prediction. Closing it closes
// the model and removes its fetched package.
type Loaded struct {
	Model
	Version registry.Version
	Package *model.Package
	dir     string
}

// Signature returns the model's signature from its MLmodel file (nil when it
// has none).
func (l *Loaded) Signature() *model.Signature { return l.Package.Manifest.Signature }

// Close closes the model and removes its package directory.
func (l *Loaded) Close() error {
	var err error
	if l.Model != nil {
		err = l.Model.Close()
	}
	return errors.Join(err, os.RemoveAll(l.dir))
}

// LoadVersion resolves uri, fetches and verifies the version's package and
// loads it. The caller owns the result and Closes it. Errors keep their
// codes: an unknown model is ENOTFOUND, a tampered package EINVALID, a flavor
// without a runtime in this build ENOTIMPLEMENTED.
func (l *VersionLoader) LoadVersion(ctx context.Context, uri string) (*Loaded, error) {
	v, err := l.Versions.Resolve(ctx, uri)
	if err != nil {
		return nil, err
	}
	return l.Load(ctx, v)
}

// Load fetches, verifies and loads the resolved version v.
func (l *VersionLoader) Load(ctx context.Context, v registry.Version) (*Loaded, error) {
	if l.Dir != "" {
		if err := os.MkdirAll(l.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("runtime: model cache: %w", err)
		}
	}
	tmp, err := os.MkdirTemp(l.Dir, "ferry-model-v"+strconv.Itoa(v.Version)+"-")
	if err != nil {
		return nil, fmt.Errorf("runtime: model cache: %w", err)
	}
	out := &Loaded{Version: v, dir: tmp}
	if out.Package, err = l.Versions.FetchVersion(ctx, v, filepath.Join(tmp, "model")); err != nil {
		_ = out.Close()
		return nil, err
	}
	if out.Model, err = l.Runtimes.Load(ctx, out.Package); err != nil {
		_ = out.Close()
		return nil, err
	}
	return out, nil
}
