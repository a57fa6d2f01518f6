// Package fault makes model versions that misbehave on purpose, for the tests
// of rollouts: a package of the flavor "ferry_fault" wraps a real model
// package and says how to spoil it (fault.json: a fraction of predictions
// that fail, a fixed delay before each). Its predictions, when they do not
// fail, are the wrapped model's.
//
// Only a failpoint build (-tags failpoint) can serve such a package: Loader,
// the runtime of the flavor, exists only there, and internal/app registers it
// only there. A normal build has no runtime for the flavor, so the package
// fails to load with the usual EINVALID "no runtime in this build serves the
// package's flavors [ferry_fault]". Writing and registering a package (Write,
// Register) works in every build; it is only files.
//
// Layout of a package:
//
//	MLmodel      flavors: {ferry_fault: {data: fault.json}}, the wrapped
//	             model's signature and creation time
//	fault.json   the Config
//	model/       the wrapped package, every file as it was (its own MLmodel
//	             and ferry.json included)
//	ferry.json   digests of all of it
package fault

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/registry"
)

// Flavor is the name of the flavor of fault packages.
const Flavor = "ferry_fault"

// ConfigFile and ModelDir are where a fault package keeps its Config and the
// wrapped package.
const (
	ConfigFile = "fault.json"
	ModelDir   = "model"
)

// Config says how a fault package spoils its model. The zero value spoils
// nothing.
type Config struct {
	// ErrorRate is the fraction of Predict calls that fail, in [0, 1]. A
	// failure is a plain error, which the serving path answers with a 500,
	// as it does any model failure. (With batching, one call is a batch.)
	ErrorRate float64 `json:"error_rate"`
	// DelayMS is added before every Predict call, failing or not, in
	// milliseconds (≥ 0).
	DelayMS int `json:"delay_ms"`
	// Seed seeds the draws that pick the failing calls: the same seed fails
	// the same calls of a sequence.
	Seed uint64 `json:"seed"`
}

// Validate checks the ranges; errors are EINVALID.
func (c Config) Validate() error {
	if !(c.ErrorRate >= 0 && c.ErrorRate <= 1) {
		return ferry.Errorf(ferry.EINVALID, "fault: error_rate %v is not in [0, 1]", c.ErrorRate)
	}
	if c.DelayMS < 0 {
		return ferry.Errorf(ferry.EINVALID, "fault: delay_ms %d is negative", c.DelayMS)
	}
	return nil
}

// Write writes into dst (which must not exist or be empty) a fault package
// wrapping the model package in src, spoiled as cfg says. src is loaded
// first, so a tampered or invalid package is refused; errors keep the codes
// of model.Load and model.Builder, and an invalid cfg is EINVALID.
func Write(ctx context.Context, dst, src string, cfg Config) (*model.Package, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	inner, err := model.Load(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("fault: wrapped package: %w", err)
	}
	conf, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("fault: %w", err)
	}
	b, err := model.NewBuilder(ctx, dst)
	if err != nil {
		return nil, fmt.Errorf("fault: %w", err)
	}
	abort := func(err error) (*model.Package, error) {
		_ = b.Abort()
		return nil, fmt.Errorf("fault: %w", err)
	}
	if err := b.AddFile(ctx, ConfigFile, bytes.NewReader(conf)); err != nil {
		return abort(err)
	}
	if err := model.EachFile(src, func(rel string, r io.Reader) error {
		return b.AddFile(ctx, path.Join(ModelDir, rel), r)
	}); err != nil {
		return abort(err)
	}
	m := &model.Manifest{
		Flavors:        map[string]model.Flavor{Flavor: {"data": ConfigFile}},
		Signature:      inner.Manifest.Signature,
		UTCTimeCreated: inner.Manifest.UTCTimeCreated,
	}
	var info model.FerryInfo
	if inner.Info != nil {
		info = *inner.Info
		info.Files = nil
	}
	p, err := b.Finish(ctx, m, info)
	if err != nil {
		return abort(err)
	}
	return p, nil
}

// Registrar registers a version from a package directory;
// *registry.Service is one.
type Registrar interface {
	RegisterDir(ctx context.Context, name, dir, source, description string, tags []registry.Tag) (registry.Version, error)
}

// Register registers a new version of name (created when absent) that wraps
// the model package in src, spoiled as cfg says, tagged "fault" with cfg.
// The package is written to a temporary directory, removed afterwards.
func Register(ctx context.Context, reg Registrar, name, src string, cfg Config) (registry.Version, error) {
	tmp, err := os.MkdirTemp("", "ferry-fault-")
	if err != nil {
		return registry.Version{}, fmt.Errorf("fault: %w", err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "model")
	if _, err := Write(ctx, dir, src, cfg); err != nil {
		return registry.Version{}, err
	}
	desc := fmt.Sprintf("fault injection: error_rate %v, delay_ms %d, seed %d", cfg.ErrorRate, cfg.DelayMS, cfg.Seed)
	return reg.RegisterDir(ctx, name, dir, "fault:"+src, desc, []registry.Tag{{Key: "fault", Value: desc}})
}
