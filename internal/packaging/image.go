package packaging

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
)

// Image configuration every Ferry image carries.
const (
	// ImagePath is the PATH of the image's environment.
	ImagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// ImageUser is the numeric user (and group) the server runs as: not root.
	// The image holds no other files, so it needs no passwd entry.
	ImageUser = "65532:65532"
)

// ImageEntrypoint is the entrypoint of every Ferry image: serve the model at
// /model.
func ImageEntrypoint() []string { return []string{BinaryPath, "serve", "/" + ModelDir} }

// WriteImage builds an OCI image of pkg and writes it to dst: an OCI image
// layout directory, or, when dst ends in ".tar", a tar archive of that layout
// that also holds Docker's manifest.json (the format `docker save` writes since
// Docker 25), so that `docker load`, `podman load`, skopeo's oci-archive: and
// go-containerregistry's tarball and layout readers all accept it. dst must not
// exist (a layout directory may exist empty); ECONFLICT otherwise. The output
// is assembled beside dst and renamed into place, so dst never holds a partial
// image.
//
// The image has two layers, both deterministic tar streams as described in the
// package documentation: the ferry executable at /usr/local/bin/ferry (mode
// 0755) and the model package at /model. binary must be a statically linked
// Linux ELF executable (CGO_ENABLED=0 go build ./cmd/ferry); the image's
// platform is linux and the binary's architecture. The configuration sets the
// entrypoint ImageEntrypoint(), PATH and FERRY_ADDR=0.0.0.0:8080, exposes
// 8080/tcp (see Port), works in /, runs as ImageUser, is created at
// meta.Created and carries the labels of ImageLabels; the manifest is
// annotated with the org.opencontainers.image.* subset of them. The same
// inputs give the same image digest, which WriteImage returns
// ("sha256:<hex>" of the image manifest).
//
// Errors wrap EINVALID for bad meta or options, an unverified or changed
// package, or a binary that is not a static Linux executable; ENOTFOUND for a
// missing binary; ctx's error when it ends.
func WriteImage(ctx context.Context, dst string, pkg *model.Package, meta Meta, binary string, opts Options) (_ string, err error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	meta, err = normalize(pkg, meta)
	if err != nil {
		return "", err
	}
	if opts, err = opts.resolve(); err != nil {
		return "", err
	}
	arch, binSize, err := inspectBinary(binary)
	if err != nil {
		return "", err
	}
	if dst == "" {
		return "", invalidf("no image destination given")
	}
	dst = filepath.Clean(dst) // "churn-oci/" names the layout directory churn-oci
	archive := strings.HasSuffix(dst, ".tar")
	existed := false
	if archive {
		if _, err := os.Lstat(dst); err == nil {
			return "", errorf(ferry.ECONFLICT, "%q already exists", clip(dst))
		}
	} else if existed, err = checkEmptyDest(dst); err != nil {
		return "", err
	}
	root, files, err := openPackage(pkg)
	if err != nil {
		return "", err
	}
	defer root.Close()

	undoParent, err := makeParent(dst)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			undoParent()
		}
	}()
	work, err := os.MkdirTemp(filepath.Dir(dst), ".ferry-image-*")
	if err != nil {
		return "", fmt.Errorf("packaging: create temporary directory: %w", err)
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, dirMode); err != nil {
		return "", fmt.Errorf("packaging: chmod %s: %w", work, err)
	}
	lp, err := layout.Write(work, empty.Index)
	if err != nil {
		return "", fmt.Errorf("packaging: start image layout: %w", err)
	}
	blobs := filepath.Join(work, "blobs", "sha256")
	if err := os.MkdirAll(blobs, dirMode); err != nil {
		return "", fmt.Errorf("packaging: create %s: %w", blobs, err)
	}

	progress := &progressCounter{fn: opts.Progress, total: binSize + totalSize(files)}
	progress.add(0)
	binLayer, err := buildLayer(blobs, opts, meta.Created, progress, func(a *archiveWriter) error {
		for _, d := range []string{"usr", "usr/local", "usr/local/bin"} {
			if err := a.dir(d); err != nil {
				return err
			}
		}
		f, err := os.Open(binary)
		if err != nil {
			return fmt.Errorf("packaging: open binary: %w", err)
		}
		defer f.Close()
		_, err = a.file(ctx, strings.TrimPrefix(BinaryPath, "/"), fmt.Sprintf("binary %q", clip(binary)), f, binSize, execMode)
		return err
	})
	if err != nil {
		return "", err
	}
	modelLayer, err := buildLayer(blobs, opts, meta.Created, progress, func(a *archiveWriter) error {
		return writeModelTree(ctx, a, root, files, ModelDir)
	})
	if err != nil {
		return "", err
	}

	labels := ImageLabels(meta)
	created := v1.Time{Time: meta.Created}
	cfg := &v1.ConfigFile{
		Created:      created,
		Architecture: arch,
		OS:           "linux",
		Config: v1.Config{
			Entrypoint:   ImageEntrypoint(),
			Env:          []string{"PATH=" + ImagePath, "FERRY_ADDR=0.0.0.0:" + strconv.Itoa(Port)},
			ExposedPorts: map[string]struct{}{strconv.Itoa(Port) + "/tcp": {}},
			WorkingDir:   "/",
			User:         ImageUser,
			Labels:       labels,
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return "", fmt.Errorf("packaging: image config: %w", err)
	}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: binLayer, History: v1.History{Created: created, CreatedBy: "ferry: COPY ferry " + BinaryPath}},
		mutate.Addendum{Layer: modelLayer, History: v1.History{Created: created, CreatedBy: "ferry: COPY model /" + ModelDir, Comment: meta.ModelDigest}},
	)
	if err != nil {
		return "", fmt.Errorf("packaging: add layers: %w", err)
	}
	img = mutate.Annotations(img, ociAnnotations(labels)).(v1.Image)
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("packaging: image digest: %w", err)
	}
	ref := imageRef(meta)
	if err := lp.AppendImage(img,
		layout.WithPlatform(v1.Platform{OS: "linux", Architecture: arch}),
		layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": strconv.Itoa(meta.Version),
			"io.containerd.image.name":          ref.Name(),
		}),
	); err != nil {
		return "", fmt.Errorf("packaging: write image layout: %w", err)
	}

	if !archive {
		if existed {
			if err := os.Remove(dst); err != nil {
				return "", errorf(ferry.ECONFLICT, "%q is no longer empty", clip(dst))
			}
		}
		if err := os.Rename(work, dst); err != nil {
			return "", fmt.Errorf("packaging: move image into %s: %w", dst, err)
		}
		return digest.String(), nil
	}
	m, err := img.Manifest()
	if err != nil {
		return "", fmt.Errorf("packaging: image manifest: %w", err)
	}
	dm := tarball.Manifest{{Config: blobPath(m.Config.Digest), RepoTags: []string{shortRef(ref)}}}
	for _, l := range m.Layers {
		dm[0].Layers = append(dm[0].Layers, blobPath(l.Digest))
	}
	dmBytes, err := json.Marshal(dm)
	if err != nil {
		return "", fmt.Errorf("packaging: encode manifest.json: %w", err)
	}
	if err := writeAtomic(dst, func(w io.Writer) error {
		return tarLayout(ctx, w, work, dmBytes, meta.Created)
	}); err != nil {
		return "", err
	}
	return digest.String(), nil
}

// ImageLabels returns the labels WriteImage sets for meta, which must be as
// WriteImage completes it (ModelDigest set, Created in UTC):
//
//	org.opencontainers.image.title     meta.Name
//	org.opencontainers.image.version   meta.Version
//	org.opencontainers.image.revision  meta.GitCommit (when set)
//	org.opencontainers.image.created   meta.Created, RFC 3339
//	ferry.model.name, ferry.model.version, ferry.model.digest
//	ferry.run.id                       (when set)
//	ferry.dataset.digests              comma-separated (when any)
//
// plus meta.Labels.
func ImageLabels(meta Meta) map[string]string {
	l := make(map[string]string, 9+len(meta.Labels))
	for k, v := range meta.Labels {
		l[k] = v
	}
	version := strconv.Itoa(meta.Version)
	l[LabelTitle] = meta.Name
	l[LabelVersion] = version
	l[LabelCreated] = meta.Created.UTC().Format(time.RFC3339Nano)
	if meta.GitCommit != "" {
		l[LabelRevision] = meta.GitCommit
	}
	l[LabelModelName] = meta.Name
	l[LabelModelVersion] = version
	l[LabelModelDigest] = meta.ModelDigest
	if meta.RunID != "" {
		l[LabelRunID] = meta.RunID
	}
	if len(meta.DatasetDigests) > 0 {
		l[LabelDatasetDigests] = strings.Join(meta.DatasetDigests, ",")
	}
	return l
}

// ociAnnotations returns the org.opencontainers.image.* subset of labels.
func ociAnnotations(labels map[string]string) map[string]string {
	a := map[string]string{}
	for k, v := range labels {
		if strings.HasPrefix(k, "org.opencontainers.image.") {
			a[k] = v
		}
	}
	return a
}

var refUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// imageRef is the reference an image archive is tagged with: the model name
// made a valid repository name, and the version as tag — "fraud-detector:3".
// ImageName is the short reference, NAME:VERSION, that WriteImage gives the
// image of version of model (docker load and podman load tag the image with
// it): NAME is the model name lowercased, every run of characters other than
// a-z and 0-9 replaced by '-', trimmed of '-' ("model" when that leaves
// nothing or more than 128 characters).
func ImageName(model string, version int) string {
	return shortRef(imageRef(Meta{Name: model, Version: version}))
}

func imageRef(meta Meta) name.Tag {
	repo := strings.Trim(refUnsafe.ReplaceAllString(strings.ToLower(meta.Name), "-"), "-")
	if repo == "" || len(repo) > 128 {
		repo = "model"
	}
	tag, err := name.NewTag(repo + ":" + strconv.Itoa(meta.Version))
	if err != nil { // not reached: repo is [a-z0-9-]+
		tag, _ = name.NewTag("model:" + strconv.Itoa(meta.Version))
	}
	return tag
}

// shortRef is the reference as `docker save` writes it in RepoTags: without
// the default registry and library/ prefix.
func shortRef(t name.Tag) string { return t.RepositoryStr()[len("library/"):] + ":" + t.TagStr() }

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// inspectBinary checks that path is a statically linked Linux ELF executable
// and returns its OCI architecture and size.
func inspectBinary(path string) (string, int64, error) {
	if path == "" {
		return "", 0, invalidf("no ferry binary given")
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", 0, errorf(ferry.ENOTFOUND, "no ferry binary at %q", clip(path))
	} else if err != nil {
		return "", 0, fmt.Errorf("packaging: stat binary: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", 0, invalidf("ferry binary %q is not a regular file", clip(path))
	}
	const hint = "build it with CGO_ENABLED=0 GOOS=linux go build ./cmd/ferry"
	f, err := elf.Open(path)
	if err != nil {
		return "", 0, invalidf("%q is not a Linux executable (ELF); %s", clip(path), hint)
	}
	defer f.Close()
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX || f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return "", 0, invalidf("%q is not a Linux executable; %s", clip(path), hint)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", 0, invalidf("%q is dynamically linked and would not start in an image without a C library; %s", clip(path), hint)
		}
	}
	arch := map[elf.Machine]string{
		elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64", elf.EM_386: "386", elf.EM_ARM: "arm",
		elf.EM_RISCV: "riscv64", elf.EM_S390: "s390x", elf.EM_LOONGARCH: "loong64",
	}[f.Machine]
	if f.Machine == elf.EM_PPC64 && f.ByteOrder.String() == "LittleEndian" {
		arch = "ppc64le"
	}
	if arch == "" {
		return "", 0, invalidf("%q is built for %s, which Ferry images do not support", clip(path), f.Machine)
	}
	return arch, fi.Size(), nil
}

// fileLayer is a layer blob already written to a file, with its digests known.
type fileLayer struct {
	path      string
	digest    v1.Hash
	diffID    v1.Hash
	size      int64
	mediaType types.MediaType
}

var _ v1.Layer = (*fileLayer)(nil)

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil || l.mediaType == types.OCIUncompressedLayer {
		return f, err
	}
	gz, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return readCloser{Reader: gz, close: f.Close}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// buildLayer writes a layer blob into blobs (a layout's blobs/sha256), named
// by its digest, with the entries fill writes.
func buildLayer(blobs string, opts Options, mtime time.Time, progress *progressCounter, fill func(*archiveWriter) error) (*fileLayer, error) {
	f, err := os.CreateTemp(blobs, ".layer-*")
	if err != nil {
		return nil, fmt.Errorf("packaging: create layer: %w", err)
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	a, err := newArchiveWriter(cw, opts, mtime, true, progress)
	if err == nil {
		err = fill(a)
	}
	if err == nil {
		err = a.close()
	}
	if err == nil {
		err = f.Chmod(fileMode)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("packaging: write layer: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	l := &fileLayer{size: cw.n, mediaType: types.OCILayer}
	l.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if l.diffID, err = v1.NewHash(a.diffID()); err != nil {
		return nil, fmt.Errorf("packaging: layer diff ID: %w", err)
	}
	if opts.Compression == CompressionNone {
		l.mediaType = types.OCIUncompressedLayer
	}
	l.path = filepath.Join(blobs, l.digest.Hex)
	if err := os.Rename(f.Name(), l.path); err != nil {
		return nil, fmt.Errorf("packaging: write layer: %w", err)
	}
	return l, nil
}

// tarLayout writes the image layout in dir as a deterministic tar archive,
// adding Docker's manifest.json.
func tarLayout(ctx context.Context, w io.Writer, dir string, dockerManifest []byte, mtime time.Time) error {
	a, err := newArchiveWriter(w, Options{Compression: CompressionNone}, mtime, false, nil)
	if err != nil {
		return err
	}
	small := func(name string) error {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("packaging: read %s: %w", name, err)
		}
		return a.bytes(name, data, fileMode)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		return fmt.Errorf("packaging: list blobs: %w", err)
	}
	// Sorted: blobs/, blobs/sha256/, blobs/sha256/<hex>..., index.json,
	// manifest.json, oci-layout. os.ReadDir sorts by name.
	if err := a.dir("blobs"); err != nil {
		return err
	}
	if err := a.dir("blobs/sha256"); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name := "blobs/sha256/" + e.Name()
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return fmt.Errorf("packaging: open %s: %w", name, err)
		}
		fi, err := f.Stat()
		if err == nil {
			var got string
			got, err = a.file(ctx, name, name, f, fi.Size(), fileMode)
			if err == nil && got != "sha256:"+e.Name() {
				err = fmt.Errorf("packaging: blob %s changed while it was archived", name)
			}
		}
		f.Close()
		if err != nil {
			return err
		}
	}
	if err := small("index.json"); err != nil {
		return err
	}
	if err := a.bytes("manifest.json", dockerManifest, fileMode); err != nil {
		return err
	}
	if err := small("oci-layout"); err != nil {
		return err
	}
	return a.close()
}
