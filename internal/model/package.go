package model

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/ferry-ml/ferry"
)

// Package is a model package loaded from a directory. Callers must not modify
// it or the manifest and info it points to; read-only, it is safe for
// concurrent use.
type Package struct {
	// Dir is the package directory, as given to Load or NewBuilder.
	Dir      string
	Manifest *Manifest
	// Info is Ferry's section; nil for packages written by MLflow.
	Info *FerryInfo

	digest string
}

// Load reads the package in dir. When dir holds a ferry.json, Load first
// verifies every file against its digest and refuses the package if a file is
// changed, missing, added or not a regular file, with an *IntegrityError naming
// the file; MLmodel is parsed from the very bytes that were verified. Without a
// ferry.json (a package MLflow wrote) nothing is verified and Verified reports
// false.
//
// Errors wrap a *ferry.Error: ENOTFOUND when dir or its MLmodel does not exist,
// EINVALID for an invalid MLmodel or ferry.json and for integrity failures,
// ETOOLARGE for oversized metadata files. ctx cancels hashing between reads.
//
// Verification covers the files as they are during Load; a caller that reads a
// data file later trusts the directory not to change in between (packages are
// immutable once written).
func Load(ctx context.Context, dir string) (*Package, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, invalidf("no package directory given")
	}
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errorf(ferry.ENOTFOUND, "no model package directory %q", clip(dir))
	} else if err != nil {
		return nil, fmt.Errorf("model: open package: %w", err)
	}
	defer root.Close()

	infoBytes, err := readMeta(root, InfoFile, MaxInfoSize)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	mlmodel, err := readMeta(root, ManifestFile, MaxManifestSize)
	if errors.Is(err, fs.ErrNotExist) {
		if infoBytes != nil {
			return nil, &IntegrityError{File: ManifestFile, Problem: Missing}
		}
		return nil, errorf(ferry.ENOTFOUND, "no %s file in %q: not a model package", ManifestFile, clip(dir))
	} else if err != nil {
		return nil, err
	}

	p := &Package{Dir: dir}
	if infoBytes != nil {
		if p.Info, err = parseInfo(infoBytes); err != nil {
			return nil, err
		}
		if err := verify(ctx, root, p.Info.Files, mlmodel); err != nil {
			return nil, err
		}
		p.digest = digestBytes(infoBytes)
	}
	if p.Manifest, err = parseManifest(mlmodel); err != nil {
		return nil, err
	}
	return p, nil
}

// readMeta reads a metadata file of at most max bytes at the package root.
// A missing file is an error satisfying errors.Is(err, fs.ErrNotExist).
func readMeta(root *os.Root, name string, max int64) ([]byte, error) {
	fi, err := root.Lstat(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("model: stat %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &IntegrityError{File: name, Problem: NotRegular}
	}
	if fi.Size() > max {
		return nil, errorf(ferry.ETOOLARGE, "%s is larger than %d bytes", name, max)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("model: open %s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("model: read %s: %w", name, err)
	}
	if int64(len(data)) > max {
		return nil, errorf(ferry.ETOOLARGE, "%s is larger than %d bytes", name, max)
	}
	return data, nil
}

// verify checks the files under root against want (path → digest): every
// regular file but ferry.json must be listed with its digest, and every listed
// file must exist. MLmodel is checked against the bytes already read. Problems
// are reported in path order: the first changed, unlisted or irregular file met
// while walking, then the first missing one.
func verify(ctx context.Context, root *os.Root, want map[string]string, mlmodel []byte) error {
	found := make(map[string]bool, len(want))
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("model: walk package: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || p == InfoFile {
			return nil
		}
		if !d.Type().IsRegular() {
			return &IntegrityError{File: p, Problem: NotRegular}
		}
		digest, listed := want[p]
		if !listed {
			return &IntegrityError{File: p, Problem: Unexpected}
		}
		found[p] = true
		var got string
		if p == ManifestFile {
			got = digestBytes(mlmodel)
		} else if got, err = digestFile(ctx, root, p); err != nil {
			return err
		}
		if got != digest {
			return &IntegrityError{File: p, Problem: Tampered}
		}
		return nil
	})
	if err != nil {
		return err
	}
	missing := make([]string, 0)
	for p := range want {
		if !found[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return &IntegrityError{File: missing[0], Problem: Missing}
	}
	return nil
}

// digestFile streams a file under root through sha256.
func digestFile(ctx context.Context, root *os.Root, name string) (string, error) {
	f, err := root.Open(filepath.FromSlash(name))
	if err != nil {
		return "", fmt.Errorf("model: open %s: %w", name, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx: ctx, r: f}); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("model: read %s: %w", name, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func digestBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Verified reports whether the package's files were checked against the
// digests of its ferry.json: true for packages Ferry wrote, false for
// packages MLflow wrote.
func (p *Package) Verified() bool { return p.Info != nil }

// Digest returns the package's content address, "sha256:<hex>" of its
// ferry.json (which holds the digest of every other file), or "" for an
// unverified package.
func (p *Package) Digest() string { return p.digest }

// Flavor returns the named flavor's fields.
func (p *Package) Flavor(name string) (Flavor, bool) { return p.Manifest.Flavor(name) }

// PreferredFlavor returns the flavor Ferry serves the package through; see
// Manifest.PreferredFlavor.
func (p *Package) PreferredFlavor() (string, error) { return p.Manifest.PreferredFlavor() }

// DataPath returns the path inside Dir of the named flavor's model file (its
// data, model_path, pickled_model, model_data or python_model field).
//
// Errors wrap a *ferry.Error: ENOTFOUND (and ErrFlavorNotFound) when there is
// no such flavor; ENOTFOUND when the flavor names no file or the file does not
// exist; EINVALID when the path is absolute or leaves the package
// (data: ../../etc/passwd) or the file is a symbolic link.
func (p *Package) DataPath(flavor string) (string, error) {
	f, ok := p.Manifest.Flavors[flavor]
	if !ok {
		return "", flavorNotFound("the model has no %s flavor (it has %s)", clip(flavor), p.Manifest.flavorList())
	}
	rel, err := flavorDataPath(flavor, f)
	if err != nil {
		return "", err
	}
	local, err := filepath.Localize(rel)
	if err != nil { // cleanRelPath already checked; kept for safety
		return "", invalidf("flavor %q names %q, which is not a valid path here", clip(flavor), clip(rel))
	}
	root, err := os.OpenRoot(p.Dir)
	if err != nil {
		return "", fmt.Errorf("model: open package: %w", err)
	}
	defer root.Close()
	fi, err := root.Lstat(local)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", errorf(ferry.ENOTFOUND, "flavor %q names %q, which is not in the package", clip(flavor), clip(rel))
	case err != nil:
		return "", fmt.Errorf("model: stat %s: %w", rel, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return "", invalidf("flavor %q names %q, which is a symbolic link (refused)", clip(flavor), clip(rel))
	}
	return filepath.Join(p.Dir, local), nil
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ctxWriter stops writing once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// EachFile calls fn with the slash-separated path (relative to dir) and the
// open content of every regular file under dir, in lexical order; it stops at
// the first error. Uploaders of packages use it.
func EachFile(dir string, fn func(rel string, r io.Reader) error) error {
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return fn(filepath.ToSlash(rel), f)
	})
}
