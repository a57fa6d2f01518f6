package packaging

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
)

// Format names what Verify found.
type Format string

// Formats Verify recognises.
const (
	FormatBundle       Format = "bundle"        // a bundle, .tar.gz or .tar
	FormatImageLayout  Format = "oci-layout"    // an OCI image layout directory
	FormatImageArchive Format = "image-archive" // an image tar: OCI layout and/or docker save
)

// Verify checks the artifact at path, whichever it is: a bundle (VerifyBundle),
// an OCI image layout directory or an image tar archive (VerifyImage). It
// returns the format it found, also alongside a verification error. Errors
// wrap ENOTFOUND when path does not exist and EINVALID when it is none of
// these or fails verification.
func Verify(ctx context.Context, path string) (Format, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", errorf(ferry.ENOTFOUND, "no bundle or image at %q", clip(path))
	} else if err != nil {
		return "", fmt.Errorf("packaging: stat %s: %w", path, err)
	}
	if fi.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "oci-layout")); err != nil {
			return "", invalidf("directory %q is not an OCI image layout (it has no oci-layout file)", clip(path))
		}
		return FormatImageLayout, VerifyImage(ctx, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("packaging: open %s: %w", path, err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(2); string(magic) == gzipMagic {
		_, err := VerifyBundle(ctx, br)
		return FormatBundle, err
	}
	hdr, err := tar.NewReader(br).Next()
	if err != nil {
		return "", invalidf("%q is neither a bundle nor an image archive (not a tar or gzip file)", clip(path))
	}
	if hdr.Name == ManifestName {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", fmt.Errorf("packaging: read %s: %w", path, err)
		}
		_, err := VerifyBundle(ctx, f)
		return FormatBundle, err
	}
	return FormatImageArchive, VerifyImage(ctx, path)
}

// VerifyImage checks the image WriteImage wrote at src (an OCI layout
// directory or an image tar archive) with go-containerregistry's readers: the
// manifest and config match their digests; every layer matches its digest,
// size and diff ID; the layers hold only safe paths and regular files and
// directories; /usr/local/bin/ferry is there, executable and an ELF file; the
// model at /model passes model.Load (every file against ferry.json) and is the
// one the ferry.model.digest label names; the entrypoint runs the binary, and
// the manifest's org.opencontainers.image annotations agree with the labels.
// The model is extracted to a temporary directory, removed afterwards.
//
// A tar archive with an OCI index.json is read as an OCI layout; one without
// (plain `docker save` output) through go-containerregistry's tarball reader,
// which rebuilds a manifest, so its annotations are not checked.
//
// Errors name what is wrong and wrap EINVALID (the model's own errors, such as
// *model.IntegrityError, stay in the chain); ENOTFOUND when src does not exist.
func VerifyImage(ctx context.Context, src string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Stat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return errorf(ferry.ENOTFOUND, "no image at %q", clip(src))
	} else if err != nil {
		return fmt.Errorf("packaging: stat %s: %w", src, err)
	}
	var img v1.Image
	var indexDigest *v1.Hash
	if fi.IsDir() {
		img, indexDigest, err = layoutImage(src)
	} else {
		img, indexDigest, err = archiveImage(src)
	}
	if err != nil {
		return err
	}
	return verifyImage(ctx, img, indexDigest)
}

// layoutImage opens the only image of the OCI layout in dir.
func layoutImage(dir string) (v1.Image, *v1.Hash, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, nil, invalidf("%q is not an OCI image layout: %v", clip(dir), err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, invalidf("the image layout's index.json is malformed: %v", err)
	}
	desc, err := onlyImage(im)
	if err != nil {
		return nil, nil, err
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		return nil, nil, invalidf("the image layout's manifest %s cannot be read: %v", desc.Digest, err)
	}
	return img, &desc.Digest, nil
}

func onlyImage(im *v1.IndexManifest) (v1.Descriptor, error) {
	if len(im.Manifests) != 1 {
		return v1.Descriptor{}, invalidf("the image index lists %d manifests; a Ferry image has exactly one", len(im.Manifests))
	}
	desc := im.Manifests[0]
	if desc.MediaType != types.OCIManifestSchema1 && desc.MediaType != types.DockerManifestSchema2 {
		return v1.Descriptor{}, invalidf("the image index lists a %s, not an image manifest", desc.MediaType)
	}
	return desc, nil
}

// archiveImage opens an image tar archive: through its OCI index.json when it
// has one, else through go-containerregistry's docker-archive reader.
func archiveImage(file string) (v1.Image, *v1.Hash, error) {
	a := &ociArchive{file: file}
	index, err := a.read("index.json")
	if errors.Is(err, fs.ErrNotExist) {
		img, err := tarball.ImageFromPath(file, nil)
		if err != nil {
			return nil, nil, invalidf("%q is not an image archive: %v", clip(file), err)
		}
		return img, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(index, &im); err != nil {
		return nil, nil, invalidf("the image archive's index.json is malformed: %v", err)
	}
	desc, err := onlyImage(&im)
	if err != nil {
		return nil, nil, err
	}
	a.desc = desc
	img, err := partial.CompressedToImage(a)
	if err != nil {
		return nil, nil, invalidf("the image archive's manifest cannot be read: %v", err)
	}
	return img, &desc.Digest, nil
}

// ociArchive reads an OCI image layout stored in a tar file, entry by entry
// (the file is seekable, so skipping large blobs is cheap). It implements
// partial.CompressedImageCore.
type ociArchive struct {
	file string
	desc v1.Descriptor
}

// open returns a reader of the named entry.
func (a *ociArchive) open(name string) (io.ReadCloser, error) {
	f, err := os.Open(a.file)
	if err != nil {
		return nil, fmt.Errorf("packaging: open %s: %w", a.file, err)
	}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			f.Close()
			return nil, fmt.Errorf("packaging: image archive has no %s: %w", name, fs.ErrNotExist)
		}
		if err != nil {
			f.Close()
			return nil, invalidf("the image archive is truncated or corrupt: %v", err)
		}
		if strings.TrimPrefix(hdr.Name, "./") == name && hdr.Typeflag == tar.TypeReg {
			return readCloser{Reader: tr, close: f.Close}, nil
		}
	}
}

func (a *ociArchive) read(name string) ([]byte, error) {
	rc, err := a.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, MaxManifestSize+1))
	if err != nil {
		return nil, invalidf("the image archive is truncated at %s: %v", name, err)
	}
	if len(data) > MaxManifestSize {
		return nil, errorf(ferry.ETOOLARGE, "the image archive's %s is larger than %d bytes", name, MaxManifestSize)
	}
	return data, nil
}

func (a *ociArchive) MediaType() (types.MediaType, error) { return a.desc.MediaType, nil }
func (a *ociArchive) RawManifest() ([]byte, error)        { return a.read(blobPath(a.desc.Digest)) }

func (a *ociArchive) RawConfigFile() ([]byte, error) {
	m, err := partial.Manifest(a)
	if err != nil {
		return nil, err
	}
	return a.read(blobPath(m.Config.Digest))
}

func (a *ociArchive) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := partial.Manifest(a)
	if err != nil {
		return nil, err
	}
	for _, d := range m.Layers {
		if d.Digest == h {
			return archiveBlob{a: a, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("packaging: no layer %s in the image", h)
}

type archiveBlob struct {
	a    *ociArchive
	desc v1.Descriptor
}

func (b archiveBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b archiveBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b archiveBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b archiveBlob) Compressed() (io.ReadCloser, error)  { return b.a.open(blobPath(b.desc.Digest)) }

// imageContents is what verifyImage found in the layers.
type imageContents struct {
	modelDir string
	seen     map[string]bool
	binary   *tar.Header
	elf      bool
}

// verifyImage checks img; indexDigest, when known, is the manifest digest the
// index names.
func verifyImage(ctx context.Context, img v1.Image, indexDigest *v1.Hash) error {
	raw, err := img.RawManifest()
	if err != nil {
		return invalidf("the image manifest cannot be read: %v", err)
	}
	if indexDigest != nil && digestOf(raw) != indexDigest.String() {
		return invalidf("the image manifest does not match its digest %s in index.json", indexDigest)
	}
	m, err := img.Manifest()
	if err != nil {
		return invalidf("the image manifest is malformed: %v", err)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return invalidf("the image config cannot be read: %v", err)
	}
	if digestOf(rawCfg) != m.Config.Digest.String() {
		return invalidf("the image config does not match its digest %s", m.Config.Digest)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return invalidf("the image config is malformed: %v", err)
	}
	if cfg.OS != "linux" {
		return invalidf("the image is for %q, not linux", clip(cfg.OS))
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return invalidf("the image manifest has %d layers but its config lists %d diff IDs", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}

	tmp, err := os.MkdirTemp("", "ferry-verify-*")
	if err != nil {
		return fmt.Errorf("packaging: create temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	modelDir := tmp + "/model"
	if err := os.Mkdir(modelDir, dirMode); err != nil {
		return fmt.Errorf("packaging: create %s: %w", modelDir, err)
	}
	root, err := os.OpenRoot(modelDir)
	if err != nil {
		return fmt.Errorf("packaging: open %s: %w", modelDir, err)
	}
	defer root.Close()
	c := &imageContents{modelDir: modelDir, seen: map[string]bool{}}
	for i, desc := range m.Layers {
		if err := verifyLayer(ctx, img, i, desc, cfg.RootFS.DiffIDs[i], rootSink{root}, c); err != nil {
			return err
		}
	}

	switch {
	case c.binary == nil:
		return invalidf("the image has no %s", BinaryPath)
	case c.binary.Mode&0o111 == 0:
		return invalidf("the image's %s is not executable (mode %04o)", BinaryPath, c.binary.Mode&0o7777)
	case !c.elf:
		return invalidf("the image's %s is not an ELF executable", BinaryPath)
	case !c.seen[ModelDir+"/"+model.ManifestFile] && !c.seen[ModelDir+"/"+model.InfoFile]:
		return invalidf("the image has no model at /%s", ModelDir)
	}
	pkg, err := model.Load(ctx, modelDir)
	if err != nil {
		return fmt.Errorf("packaging: the image's model at /%s: %w", ModelDir, err)
	}
	if !pkg.Verified() {
		return invalidf("the image's model at /%s has no %s", ModelDir, model.InfoFile)
	}
	labels := cfg.Config.Labels
	if got := labels[LabelModelDigest]; got != pkg.Digest() {
		return invalidf("the image's label %s is %q but its model at /%s has digest %s", LabelModelDigest, clip(got), ModelDir, pkg.Digest())
	}
	if ep := cfg.Config.Entrypoint; len(ep) == 0 || ep[0] != BinaryPath {
		return invalidf("the image's entrypoint %q does not run %s", ep, BinaryPath)
	}
	if indexDigest != nil {
		for _, k := range []string{LabelTitle, LabelVersion, LabelRevision, LabelCreated} {
			if m.Annotations[k] != labels[k] {
				return invalidf("the image manifest's annotation %s is %q but its label is %q", k, clip(m.Annotations[k]), clip(labels[k]))
			}
		}
	}
	return nil
}

// verifyLayer streams layer i once: it hashes the blob (digest) and the tar
// inside (diff ID), extracts model/ into s and records the binary.
func verifyLayer(ctx context.Context, img v1.Image, i int, desc v1.Descriptor, diffID v1.Hash, s sink, c *imageContents) error {
	layer, err := img.LayerByDigest(desc.Digest)
	if err != nil {
		return invalidf("layer %d (%s) cannot be found: %v", i+1, desc.Digest, err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return invalidf("layer %d (%s) cannot be read: %v", i+1, desc.Digest, err)
	}
	defer rc.Close()
	blobHash := sha256.New()
	blob := &countWriter{w: blobHash}
	br := bufio.NewReaderSize(io.TeeReader(rc, blob), 256<<10)
	var u io.Reader = br
	if magic, _ := br.Peek(2); string(magic) == gzipMagic {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return invalidf("layer %d (%s) is corrupt: %v", i+1, desc.Digest, err)
		}
		u = gz
	}
	tarHash := sha256.New()
	tr := tar.NewReader(io.TeeReader(u, tarHash))
	buf := make([]byte, copyChunk)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return invalidf("layer %d (%s) is truncated or corrupt: %v", i+1, desc.Digest, err)
		}
		if err := layerEntry(ctx, tr, hdr, i, s, c, buf); err != nil {
			return err
		}
	}
	// Read both streams to their ends so that the hashes cover everything.
	if _, err := io.Copy(io.Discard, u); err != nil {
		return invalidf("layer %d (%s) is truncated or corrupt: %v", i+1, desc.Digest, err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return invalidf("layer %d (%s) cannot be read: %v", i+1, desc.Digest, err)
	}
	if got := "sha256:" + hex.EncodeToString(blobHash.Sum(nil)); got != desc.Digest.String() || blob.n != desc.Size {
		return invalidf("layer %d does not match its digest %s (tampered or corrupt)", i+1, desc.Digest)
	}
	if got := "sha256:" + hex.EncodeToString(tarHash.Sum(nil)); got != diffID.String() {
		return invalidf("layer %d (%s) does not match its diff ID %s in the image config", i+1, desc.Digest, diffID)
	}
	return nil
}

// layerEntry handles one entry of a layer.
func layerEntry(ctx context.Context, tr *tar.Reader, hdr *tar.Header, layer int, s sink, c *imageContents, buf []byte) error {
	name := strings.TrimPrefix(hdr.Name, "./")
	isDir := hdr.Typeflag == tar.TypeDir
	if isDir {
		name = strings.TrimSuffix(name, "/")
	}
	if !safeName(name) {
		return invalidf("layer %d has an entry with an unsafe path %q", layer+1, clip(hdr.Name))
	}
	if !isDir && hdr.Typeflag != tar.TypeReg {
		return invalidf("layer %d entry %q is not a regular file or directory (links and devices are refused)", layer+1, clip(name))
	}
	if c.seen[name] {
		return invalidf("image entry %q appears more than once", clip(name))
	}
	c.seen[name] = true
	bin := strings.TrimPrefix(BinaryPath, "/")
	switch {
	case isDir && (name == ModelDir || strings.HasPrefix(name, ModelDir+"/")):
		return s.mkdir(strings.TrimPrefix(strings.TrimPrefix(name, ModelDir), "/"))
	case isDir && strings.HasPrefix(bin, name+"/"):
		return nil
	case name == bin:
		c.binary = hdr
		magic := make([]byte, 4)
		n, _ := io.ReadFull(tr, magic)
		c.elf = n == 4 && string(magic) == "\x7fELF"
		return nil // the rest is hashed as the layer is drained
	case !isDir && strings.HasPrefix(name, ModelDir+"/"):
		rel := strings.TrimPrefix(name, ModelDir+"/")
		w, err := s.create(rel)
		if err != nil {
			return fmt.Errorf("packaging: extract %s: %w", name, err)
		}
		_, err = io.CopyBuffer(w, ctxReader{ctx: ctx, r: tr}, buf)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return invalidf("layer %d is truncated or corrupt at %q: %v", layer+1, clip(name), err)
		}
		return nil
	}
	return invalidf("layer %d has an unexpected entry %q (a Ferry image holds only %s and /%s)", layer+1, clip(name), BinaryPath, ModelDir)
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
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
