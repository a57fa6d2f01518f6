package packaging_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/packaging"
)

func writeImage(t testing.TB, dst string, pkg *model.Package, bin string, opts packaging.Options) string {
	t.Helper()
	digest, err := packaging.WriteImage(context.Background(), dst, pkg, testMeta(), bin, opts)
	if err != nil {
		t.Fatal(err)
	}
	return digest
}

// layoutImage reads the only image of an OCI layout with go-containerregistry.
func layoutImage(t testing.TB, dir string) (v1.Image, v1.Descriptor) {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	check(t, err)
	im, err := idx.IndexManifest()
	check(t, err)
	if len(im.Manifests) != 1 {
		t.Fatalf("index lists %d manifests, want 1", len(im.Manifests))
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	check(t, err)
	return img, im.Manifests[0]
}

// treeDigests maps every file under dir to its digest.
func treeDigests(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	check(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = sha(must(os.ReadFile(p)))
		return nil
	}))
	return out
}

func TestWriteImageReproducible(t *testing.T) {
	base := t.TempDir()
	pkg := buildPackage(t, filepath.Join(base, "pkg"), bigSize)
	bin := fakeELF(t, base, false)
	for _, tc := range []struct {
		name string
		opts packaging.Options
	}{
		{"gzip layers", packaging.Options{}},
		{"uncompressed layers", packaging.Options{Compression: packaging.CompressionNone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d1 := writeImage(t, filepath.Join(dir, "one"), pkg, bin, tc.opts)
			d2 := writeImage(t, filepath.Join(dir, "two"), pkg, bin, tc.opts)
			d3 := writeImage(t, filepath.Join(dir, "one.tar"), pkg, bin, tc.opts)
			d4 := writeImage(t, filepath.Join(dir, "two.tar"), pkg, bin, tc.opts)
			if d1 != d2 || d1 != d3 || d1 != d4 {
				t.Fatalf("image digests differ: %s %s %s %s", d1, d2, d3, d4)
			}
			one, two := treeDigests(t, filepath.Join(dir, "one")), treeDigests(t, filepath.Join(dir, "two"))
			if !equalMaps(one, two) {
				t.Errorf("layouts differ:\n%v\n%v", one, two)
			}
			if a, b := sha(must(os.ReadFile(filepath.Join(dir, "one.tar")))), sha(must(os.ReadFile(filepath.Join(dir, "two.tar")))); a != b {
				t.Errorf("image archives differ: %s, %s", a, b)
			}
			img, desc := layoutImage(t, filepath.Join(dir, "one"))
			if got := must(img.Digest()).String(); got != d1 || desc.Digest.String() != d1 {
				t.Errorf("layout image digest %s (index %s), WriteImage returned %s", got, desc.Digest, d1)
			}
		})
	}
	t.Run("different meta", func(t *testing.T) {
		dir := t.TempDir()
		d1 := writeImage(t, filepath.Join(dir, "a"), pkg, bin, packaging.Options{})
		meta := testMeta()
		meta.Version = 4
		d2, err := packaging.WriteImage(context.Background(), filepath.Join(dir, "b"), pkg, meta, bin, packaging.Options{})
		check(t, err)
		if d1 == d2 {
			t.Errorf("version 3 and 4 have the same image digest %s", d1)
		}
	})
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestImageReadBack(t *testing.T) {
	base := t.TempDir()
	pkg := buildPackage(t, filepath.Join(base, "pkg"), bigSize)
	bin := fakeELF(t, base, false)
	dir := filepath.Join(base, "image")
	digest := writeImage(t, dir, pkg, bin, packaging.Options{})
	archive := filepath.Join(base, "image.tar")
	writeImage(t, archive, pkg, bin, packaging.Options{})

	img, desc := layoutImage(t, dir)
	if desc.Platform == nil || desc.Platform.OS != "linux" || desc.Platform.Architecture != runtime.GOARCH {
		t.Errorf("index platform %+v, want linux/%s", desc.Platform, runtime.GOARCH)
	}
	if desc.Annotations["org.opencontainers.image.ref.name"] != "3" || desc.Annotations["io.containerd.image.name"] != "index.docker.io/library/breast-cancer:3" {
		t.Errorf("index annotations %v", desc.Annotations)
	}
	m := must(img.Manifest())
	cfg := must(img.ConfigFile())

	t.Run("config", func(t *testing.T) {
		c := cfg.Config
		if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/ferry", "serve", "/model"}) {
			t.Errorf("entrypoint %q", c.Entrypoint)
		}
		if !slices.Contains(c.Env, "PATH="+packaging.ImagePath) || !slices.Contains(c.Env, "FERRY_ADDR=0.0.0.0:8080") {
			t.Errorf("env %q", c.Env)
		}
		if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 1 {
			t.Errorf("exposed ports %v", c.ExposedPorts)
		}
		if c.WorkingDir != "/" || c.User != packaging.ImageUser {
			t.Errorf("working dir %q user %q", c.WorkingDir, c.User)
		}
		if !cfg.Created.Equal(testCreated) || cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
			t.Errorf("created %v os %s arch %s", cfg.Created, cfg.OS, cfg.Architecture)
		}
	})
	t.Run("labels", func(t *testing.T) {
		want := map[string]string{
			"org.opencontainers.image.title":    "breast-cancer",
			"org.opencontainers.image.version":  "3",
			"org.opencontainers.image.revision": "847e906c1d2b3a4f5e6d7c8b9a0f1e2d3c4b5a69",
			"org.opencontainers.image.created":  "2025-03-14T15:09:26Z",
			"ferry.model.name":                  "breast-cancer",
			"ferry.model.version":               "3",
			"ferry.model.digest":                pkg.Digest(),
			"ferry.run.id":                      "5d8859a719f94e7cb4283e074bce122d",
			"ferry.dataset.digests":             "sha256:3b5d5c3712955042212316173ccf37be800b8a6a1f3e6f5b5c6e0a1d2c3b4a59",
			"team":                              "ml-platform",
		}
		if !equalMaps(cfg.Config.Labels, want) {
			t.Errorf("labels\n %v\nwant %v", cfg.Config.Labels, want)
		}
		for k, v := range want {
			if strings.HasPrefix(k, "org.opencontainers.image.") && m.Annotations[k] != v {
				t.Errorf("manifest annotation %s = %q, want %q", k, m.Annotations[k], v)
			}
		}
		if len(m.Annotations) != 4 {
			t.Errorf("manifest annotations %v, want the 4 org.opencontainers.image keys", m.Annotations)
		}
	})
	t.Run("layers", func(t *testing.T) {
		if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("media types %s, %s", m.MediaType, m.Config.MediaType)
		}
		layers := must(img.Layers())
		if len(layers) != 2 || len(m.Layers) != 2 {
			t.Fatalf("%d layers, want 2", len(layers))
		}
		wantEntries := [][]string{
			{"usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/ferry"},
			{"model/", "model/MLmodel", "model/docs/", "model/docs/README.txt", "model/ferry.json", "model/model.json", "model/weights.bin"},
		}
		for i, l := range layers {
			if mt := must(l.MediaType()); mt != types.OCILayer {
				t.Errorf("layer %d media type %s", i, mt)
			}
			var names []string
			for _, e := range layerEntries(t, l) {
				names = append(names, e.hdr.Name)
				mode := int64(0o644)
				if e.hdr.Typeflag == tar.TypeDir || e.hdr.Name == "usr/local/bin/ferry" {
					mode = 0o755
				}
				if e.hdr.Mode != mode || e.hdr.Uid != 0 || !e.hdr.ModTime.Equal(testCreated) {
					t.Errorf("layer %d entry %s: mode %o uid %d mtime %v", i, e.hdr.Name, e.hdr.Mode, e.hdr.Uid, e.hdr.ModTime)
				}
				if e.hdr.Name == "usr/local/bin/ferry" && !bytes.Equal(e.data, must(os.ReadFile(bin))) {
					t.Errorf("the binary in the image differs from %s", bin)
				}
			}
			if !slices.Equal(names, wantEntries[i]) {
				t.Errorf("layer %d entries %q, want %q", i, names, wantEntries[i])
			}
		}
	})
	t.Run("docker archive", func(t *testing.T) {
		timg, err := tarball.ImageFromPath(archive, nil)
		check(t, err)
		if must(timg.ConfigName()) != m.Config.Digest {
			t.Errorf("archive config %s, layout %s", must(timg.ConfigName()), m.Config.Digest)
		}
		tm := must(timg.Manifest())
		if len(tm.Layers) != 2 {
			t.Fatalf("archive has %d layers", len(tm.Layers))
		}
		for i := range tm.Layers {
			if tm.Layers[i].Digest != m.Layers[i].Digest {
				t.Errorf("archive layer %d digest %s, layout %s", i, tm.Layers[i].Digest, m.Layers[i].Digest)
			}
		}
		tag := must(name.NewTag("breast-cancer:3"))
		dm := must(tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archive) }))
		if len(dm) != 1 || !slices.Equal(dm[0].RepoTags, []string{"breast-cancer:3"}) {
			t.Errorf("manifest.json %+v", dm)
		}
		if _, err := tarball.ImageFromPath(archive, &tag); err != nil {
			t.Errorf("ImageFromPath(%s): %v", tag, err)
		}
	})
	t.Run("oci archive", func(t *testing.T) {
		// The archive is the layout, tarred: the same index.json and blobs.
		want := treeDigests(t, dir)
		got := map[string]string{}
		for _, e := range readEntries(t, must(os.ReadFile(archive))) {
			if e.hdr.Typeflag == tar.TypeReg && e.hdr.Name != "manifest.json" {
				got[e.hdr.Name] = sha(e.data)
			}
		}
		if !equalMaps(got, want) {
			t.Errorf("archive files\n %v\nlayout files %v", got, want)
		}
		if digest != desc.Digest.String() {
			t.Errorf("digest %s, index %s", digest, desc.Digest)
		}
	})
	t.Run("golden", func(t *testing.T) {
		if runtime.GOARCH != "amd64" {
			t.Skip("the golden image config is for amd64")
		}
		golden(t, "image-config.json", prettyJSON(t, must(img.RawConfigFile())))
		golden(t, "image-manifest.json", prettyJSON(t, must(img.RawManifest())))
	})
}

// layerEntries reads a layer's uncompressed tar.
func layerEntries(t testing.TB, l v1.Layer) []entry {
	t.Helper()
	rc, err := l.Uncompressed()
	check(t, err)
	defer rc.Close()
	return readEntries(t, must(io.ReadAll(rc)))
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	pkg := buildPackage(t, filepath.Join(base, "pkg"), bigSize)
	bin := fakeELF(t, base, false)
	dir := filepath.Join(base, "image")
	writeImage(t, dir, pkg, bin, packaging.Options{})
	archive := filepath.Join(base, "image.tar")
	writeImage(t, archive, pkg, bin, packaging.Options{})
	plainDir := filepath.Join(base, "plain")
	writeImage(t, plainDir, pkg, bin, packaging.Options{Compression: packaging.CompressionNone})
	gz := filepath.Join(base, "model.tar.gz")
	must(packaging.WriteBundleFile(ctx, gz, pkg, testMeta(), packaging.Options{}))
	plain := filepath.Join(base, "model.tar")
	must(packaging.WriteBundleFile(ctx, plain, pkg, testMeta(), packaging.Options{Compression: packaging.CompressionNone}))
	// An archive as `docker save` wrote it before Docker 25, without index.json.
	docker := filepath.Join(base, "docker.tar")
	img, _ := layoutImage(t, dir)
	check(t, tarball.WriteToFile(docker, must(name.NewTag("breast-cancer:3")), img))
	notArtifact := filepath.Join(base, "notes.txt")
	check(t, os.WriteFile(notArtifact, []byte("hello"), 0o644))

	for _, tc := range []struct {
		name   string
		path   string
		format packaging.Format
		code   string
	}{
		{"gzip bundle", gz, packaging.FormatBundle, ""},
		{"plain bundle", plain, packaging.FormatBundle, ""},
		{"layout", dir, packaging.FormatImageLayout, ""},
		{"layout with uncompressed layers", plainDir, packaging.FormatImageLayout, ""},
		{"image archive", archive, packaging.FormatImageArchive, ""},
		{"docker save archive", docker, packaging.FormatImageArchive, ""},
		{"missing", filepath.Join(base, "nope"), "", ferry.ENOTFOUND},
		{"not an artifact", notArtifact, "", ferry.EINVALID},
		{"package directory", pkg.Dir, "", ferry.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			format, err := packaging.Verify(ctx, tc.path)
			if format != tc.format || ferry.ErrorCode(err) != tc.code {
				t.Errorf("Verify = %q, %v; want %q, code %q", format, err, tc.format, tc.code)
			}
		})
	}
}

// rebuild writes a copy of img to a new layout with its layers changed by
// edit (given each layer's uncompressed entries) and its config by editCfg,
// with consistent digests: what a careful attacker would produce.
func rebuild(t *testing.T, img v1.Image, edit func(i int, es []entry) []entry, editCfg func(*v1.ConfigFile)) string {
	t.Helper()
	cfg := must(img.ConfigFile()).DeepCopy()
	cfg.RootFS.DiffIDs = nil
	cfg.History = nil
	if editCfg != nil {
		editCfg(cfg)
	}
	out := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	out = must(mutate.ConfigFile(out, cfg))
	for i, l := range must(img.Layers()) {
		data := writeTar(t, edit(i, layerEntries(t, l)))
		nl := must(tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer)))
		out = must(mutate.AppendLayers(out, nl))
	}
	out = mutate.Annotations(out, must(img.Manifest()).Annotations).(v1.Image)
	dir := filepath.Join(t.TempDir(), "rebuilt")
	p := must(layout.Write(dir, empty.Index))
	check(t, p.AppendImage(out))
	return dir
}

func TestVerifyImageTampered(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	pkg := buildPackage(t, filepath.Join(base, "pkg"), bigSize)
	bin := fakeELF(t, base, false)
	good := filepath.Join(base, "image")
	writeImage(t, good, pkg, bin, packaging.Options{Compression: packaging.CompressionNone})
	img, desc := layoutImage(t, good)
	m := must(img.Manifest())
	blob := func(dir string, h v1.Hash) string { return filepath.Join(dir, "blobs", h.Algorithm, h.Hex) }
	copyLayout := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "copy")
		check(t, os.CopyFS(dir, os.DirFS(good)))
		return dir
	}
	keep := func(_ int, es []entry) []entry { return es }

	for _, tc := range []struct {
		name  string
		image func(t *testing.T) string
		msg   string // "…" stands for any text
		is    func(error) bool
	}{
		{
			name: "flipped byte in the model layer",
			image: func(t *testing.T) string {
				dir := copyLayout(t)
				p := blob(dir, m.Layers[1].Digest)
				data := must(os.ReadFile(p))
				i := bytes.Index(data, []byte(`"intercept"`))
				data[i+1] ^= 1
				check(t, os.WriteFile(p, data, 0o644))
				return dir
			},
			msg: "packaging: layer 2 does not match its digest sha256:… (tampered or corrupt)",
		},
		{
			name: "flipped byte in the binary layer",
			image: func(t *testing.T) string {
				dir := copyLayout(t)
				p := blob(dir, m.Layers[0].Digest)
				data := must(os.ReadFile(p))
				data[len(data)-1100] ^= 1
				check(t, os.WriteFile(p, data, 0o644))
				return dir
			},
			msg: "packaging: layer 1 does not match its digest sha256:… (tampered or corrupt)",
		},
		{
			name: "config changed",
			image: func(t *testing.T) string {
				dir := copyLayout(t)
				p := blob(dir, m.Config.Digest)
				data := bytes.Replace(must(os.ReadFile(p)), []byte(`"ml-platform"`), []byte(`"ml-pl4tform"`), 1)
				check(t, os.WriteFile(p, data, 0o644))
				return dir
			},
			msg: "packaging: the image config does not match its digest sha256:…",
		},
		{
			name: "manifest changed",
			image: func(t *testing.T) string {
				dir := copyLayout(t)
				p := blob(dir, desc.Digest)
				data := bytes.Replace(must(os.ReadFile(p)), []byte(`"breast-cancer"`), []byte(`"breast-canker"`), 1)
				check(t, os.WriteFile(p, data, 0o644))
				return dir
			},
			msg: "packaging: the image manifest does not match its digest sha256:… in index.json",
		},
		{
			name: "layer blob missing",
			image: func(t *testing.T) string {
				dir := copyLayout(t)
				check(t, os.Remove(blob(dir, m.Layers[1].Digest)))
				return dir
			},
			msg: "packaging: layer 2 (sha256:…) cannot be read: …",
		},
		{
			name: "model file changed, digests redone",
			image: func(t *testing.T) string {
				return rebuild(t, img, func(i int, es []entry) []entry {
					if i == 1 {
						j := findEntry(t, es, "model/model.json")
						es[j].data = bytes.Replace(es[j].data, []byte("0.25"), []byte("9.25"), 1)
					}
					return es
				}, nil)
			},
			msg: `packaging: the image's model at /model: model: file "model.json" does not match its digest (tampered or corrupt)`,
			is: func(err error) bool {
				var ie *model.IntegrityError
				return errors.As(err, &ie) && ie.File == "model.json" && ie.Problem == model.Tampered
			},
		},
		{
			name: "model file added",
			image: func(t *testing.T) string {
				return rebuild(t, img, func(i int, es []entry) []entry {
					if i == 1 {
						es = append(es, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "model/extra.py", Mode: 0o644}, data: []byte("import os")})
					}
					return es
				}, nil)
			},
			msg: `packaging: the image's model at /model: model: file "extra.py" is not listed in ferry.json (added after packaging)`,
		},
		{
			name: "binary not executable",
			image: func(t *testing.T) string {
				return rebuild(t, img, func(i int, es []entry) []entry {
					if i == 0 {
						es[findEntry(t, es, "usr/local/bin/ferry")].hdr.Mode = 0o644
					}
					return es
				}, nil)
			},
			msg: "packaging: the image's /usr/local/bin/ferry is not executable (mode 0644)",
		},
		{
			name: "binary missing",
			image: func(t *testing.T) string {
				return rebuild(t, img, func(i int, es []entry) []entry {
					if i == 0 {
						return es[:3]
					}
					return es
				}, nil)
			},
			msg: "packaging: the image has no /usr/local/bin/ferry",
		},
		{
			name: "binary not ELF",
			image: func(t *testing.T) string {
				return rebuild(t, img, func(i int, es []entry) []entry {
					if i == 0 {
						es[3].data = []byte("#!/bin/sh\necho pwned\n")
					}
					return es
				}, nil)
			},
			msg: "packaging: the image's /usr/local/bin/ferry is not an ELF executable",
		},
		{
			name: "symbolic link in the model",
			image: func(t *testing.T) string {
				return rebuild(t, img, func(i int, es []entry) []entry {
					if i == 1 {
						es = append(es, entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "model/link", Linkname: "/etc/shadow"}})
					}
					return es
				}, nil)
			},
			msg: `packaging: layer 2 entry "model/link" is not a regular file or directory (links and devices are refused)`,
		},
		{
			name: "path traversal",
			image: func(t *testing.T) string {
				return rebuild(t, img, func(i int, es []entry) []entry {
					if i == 1 {
						es = append(es, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "model/../../evil", Mode: 0o644}, data: []byte("x")})
					}
					return es
				}, nil)
			},
			msg: `packaging: layer 2 has an entry with an unsafe path "model/../../evil"`,
		},
		{
			name: "unexpected file",
			image: func(t *testing.T) string {
				return rebuild(t, img, func(i int, es []entry) []entry {
					if i == 0 {
						es = append(es, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644}, data: []byte("root::0:0")})
					}
					return es
				}, nil)
			},
			msg: `packaging: layer 1 has an unexpected entry "etc/passwd" (a Ferry image holds only /usr/local/bin/ferry and /model)`,
		},
		{
			name: "model digest label wrong",
			image: func(t *testing.T) string {
				return rebuild(t, img, keep, func(c *v1.ConfigFile) {
					c.Config.Labels["ferry.model.digest"] = "sha256:0000"
				})
			},
			msg: `packaging: the image's label ferry.model.digest is "sha256:0000" but its model at /model has digest sha256:…`,
		},
		{
			name: "entrypoint changed",
			image: func(t *testing.T) string {
				return rebuild(t, img, keep, func(c *v1.ConfigFile) { c.Config.Entrypoint = []string{"/bin/sh"} })
			},
			msg: `packaging: the image's entrypoint ["/bin/sh"] does not run /usr/local/bin/ferry`,
		},
		{
			name: "annotation differs from label",
			image: func(t *testing.T) string {
				return rebuild(t, img, keep, func(c *v1.ConfigFile) { c.Config.Labels["org.opencontainers.image.version"] = "4" })
			},
			msg: `packaging: the image manifest's annotation org.opencontainers.image.version is "3" but its label is "4"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := packaging.VerifyImage(ctx, tc.image(t))
			t.Log(err)
			if !matchMsg(err, tc.msg) {
				t.Errorf("VerifyImage = %v\n want %s", err, tc.msg)
			}
			if ferry.ErrorCode(err) != ferry.EINVALID {
				t.Errorf("code %s, want EINVALID", ferry.ErrorCode(err))
			}
			if tc.is != nil && !tc.is(err) {
				t.Errorf("error %v is not the expected type", err)
			}
		})
	}
	t.Run("untampered rebuild passes", func(t *testing.T) {
		// The rebuild itself must not be what the checks above catch.
		check(t, packaging.VerifyImage(ctx, rebuild(t, img, keep, nil)))
	})
}

func TestWriteImageErrors(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	pkg := buildPackage(t, filepath.Join(base, "pkg"), 1000)
	bin := fakeELF(t, base, false)
	dynamic := fakeELF(t, t.TempDir(), true)
	script := filepath.Join(base, "ferry.sh")
	check(t, os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755))
	nonEmpty := filepath.Join(base, "non-empty")
	check(t, os.MkdirAll(nonEmpty, 0o755))
	check(t, os.WriteFile(filepath.Join(nonEmpty, "x"), nil, 0o644))
	existing := filepath.Join(base, "existing.tar")
	check(t, os.WriteFile(existing, nil, 0o644))
	out := func(name string) string { return filepath.Join(t.TempDir(), name) }

	for _, tc := range []struct {
		name string
		dst  string
		bin  string
		meta func(*packaging.Meta)
		code string
		msg  string
	}{
		{"binary missing", out("img"), filepath.Join(base, "nope"), nil, ferry.ENOTFOUND, `packaging: no ferry binary at "…nope"`},
		{"binary is a script", out("img"), script, nil, ferry.EINVALID,
			`packaging: "…ferry.sh" is not a Linux executable (ELF); build it with CGO_ENABLED=0 GOOS=linux go build ./cmd/ferry`},
		{"binary dynamically linked", out("img"), dynamic, nil, ferry.EINVALID,
			`packaging: "…ferry" is dynamically linked and would not start in an image without a C library; build it with CGO_ENABLED=0 GOOS=linux go build ./cmd/ferry`},
		{"layout directory not empty", nonEmpty, bin, nil, ferry.ECONFLICT, `packaging: directory "…non-empty" is not empty`},
		{"archive exists", existing, bin, nil, ferry.ECONFLICT, `packaging: "…existing.tar" already exists`},
		{"bad meta", out("img"), bin, func(m *packaging.Meta) { m.Name = "" }, ferry.EINVALID, "packaging: the model needs a name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := testMeta()
			if tc.meta != nil {
				tc.meta(&meta)
			}
			_, err := packaging.WriteImage(ctx, tc.dst, pkg, meta, tc.bin, packaging.Options{})
			if ferry.ErrorCode(err) != tc.code || !matchMsg(err, tc.msg) {
				t.Errorf("WriteImage = %v\n want %s: %s", err, tc.code, tc.msg)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(tc.dst), ".ferry-*")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
	t.Run("a trailing slash names the layout directory", func(t *testing.T) {
		dst := out("churn-oci") + string(filepath.Separator)
		if _, err := packaging.WriteImage(ctx, dst, pkg, testMeta(), bin, packaging.Options{}); err != nil {
			t.Fatal(err)
		}
		check(t, packaging.VerifyImage(ctx, dst))
	})
	t.Run("a failure leaves no directories behind", func(t *testing.T) {
		top := out("new")
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		_, err := packaging.WriteImage(cctx, filepath.Join(top, "deeper", "img")+"/", pkg, testMeta(), bin, packaging.Options{
			Progress: func(done, total int64) { cancel() },
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("WriteImage = %v, want the cancellation", err)
		}
		if _, err := os.Lstat(top); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the failed write left %s behind (%v)", top, err)
		}
	})
	t.Run("empty layout directory is used", func(t *testing.T) {
		dst := out("empty")
		check(t, os.Mkdir(dst, 0o755))
		if _, err := packaging.WriteImage(ctx, dst, pkg, testMeta(), bin, packaging.Options{}); err != nil {
			t.Fatal(err)
		}
		check(t, packaging.VerifyImage(ctx, dst))
	})
}

func TestImageProgress(t *testing.T) {
	base := t.TempDir()
	pkg := buildPackage(t, filepath.Join(base, "pkg"), bigSize)
	bin := fakeELF(t, base, false)
	var last, total int64
	opts := packaging.Options{Progress: func(done, tot int64) { last, total = done, tot }}
	writeImage(t, filepath.Join(base, "img"), pkg, bin, opts)
	want := must(os.Stat(bin)).Size()
	for rel := range pkg.Info.Files {
		want += must(os.Stat(filepath.Join(pkg.Dir, rel))).Size()
	}
	want += must(os.Stat(filepath.Join(pkg.Dir, model.InfoFile))).Size()
	if last != want || total != want {
		t.Errorf("last progress %d/%d, want %d/%d", last, total, want, want)
	}
}

// TestImageRunsBinary builds the real ferry binary, packages it, takes it out
// of the image archive again with go-containerregistry and runs it.
func TestImageRunsBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: builds the ferry binary (go build ./cmd/ferry) and runs it from an image")
	}
	if runtime.GOOS != "linux" {
		t.Skipf("images hold Linux binaries; this is %s", runtime.GOOS)
	}
	ctx := context.Background()
	gomod := strings.TrimSpace(string(must(exec.Command("go", "env", "GOMOD").Output())))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("go env GOMOD names no module")
	}
	base := t.TempDir()
	bin := filepath.Join(base, "build", "ferry")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ferry")
	build.Dir = filepath.Dir(gomod)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ferry: %v\n%s", err, out)
	}

	pkg := buildPackage(t, filepath.Join(base, "pkg"), 1000)
	archive := filepath.Join(base, "image.tar")
	writeImage(t, archive, pkg, bin, packaging.Options{})
	check(t, packaging.VerifyImage(ctx, archive))

	img, err := tarball.ImageFromPath(archive, nil)
	check(t, err)
	layers := must(img.Layers())
	var extracted string
	for _, e := range layerEntries(t, layers[0]) {
		if e.hdr.Name == strings.TrimPrefix(packaging.BinaryPath, "/") {
			extracted = filepath.Join(base, "run", "ferry")
			check(t, os.MkdirAll(filepath.Dir(extracted), 0o755))
			check(t, os.WriteFile(extracted, e.data, e.hdr.FileInfo().Mode().Perm()))
		}
	}
	if extracted == "" {
		t.Fatalf("no %s in the first layer", packaging.BinaryPath)
	}
	out, err := exec.CommandContext(ctx, extracted, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", extracted, err, out)
	}
	if !strings.HasPrefix(string(out), "ferry ") {
		t.Errorf("ferry version printed %q, want \"ferry <version>\"", out)
	}
}
