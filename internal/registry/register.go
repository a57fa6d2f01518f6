package registry

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/failpoint"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// RegisterVersion registers a new version of name from source: runs:/RUN/path,
// models:/m-<id> (an MLflow 3 logged model: its artifacts are the package)
// or an mlflow-artifacts: URI of a model package. The package is copied into
// the registry's own storage (so the version is immutable), its digests are
// verified, and its lineage is recorded. The model is created when absent
// and create is set. The same package registered again is a new version, as
// in MLflow; its bytes are stored once (see register). A runs:/ source may
// name the run by a unique prefix of its id (tracking.Service.ResolveRunID);
// the version records the full id.
func (s *Service) RegisterVersion(ctx context.Context, name, source, runID, description string, tags []Tag, create bool) (Version, error) {
	missing, err := s.checkTarget(ctx, name, create)
	if err != nil {
		return Version{}, err
	}
	key, run, source, err := s.resolveSource(ctx, source, runID)
	if err != nil {
		return Version{}, err
	}
	tmp, err := os.MkdirTemp("", "ferry-register-")
	if err != nil {
		return Version{}, err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "model")
	if err := s.download(ctx, key, dir); err != nil {
		return Version{}, err
	}
	return s.register(ctx, name, source, run, dir, description, tags, missing)
}

// RegisterDir registers a new version of name from a model package in the
// local directory dir: one with an MLmodel file, written by Ferry (with
// ferry.json) or by MLflow. It verifies, copies and audits as
// RegisterVersion does, creating the model when absent. The version's source
// is source, or dir's absolute path when source is "" (a server registering
// an upload records where the client had it). A directory without an MLmodel file is ENOTFOUND,
// a package whose files do not match their digests EINVALID; either leaves
// nothing behind.
func (s *Service) RegisterDir(ctx context.Context, name, dir, source, description string, tags []Tag) (Version, error) {
	missing, err := s.checkTarget(ctx, name, true)
	if err != nil {
		return Version{}, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Version{}, fmt.Errorf("registry: register %s: %w", dir, err)
	}
	if source == "" {
		source = abs
	}
	return s.register(ctx, name, source, "", abs, description, tags, missing)
}

// checkTarget checks the model a version is registered to: it must exist
// unless create is set. It reports whether the model is missing.
func (s *Service) checkTarget(ctx context.Context, name string, create bool) (missing bool, err error) {
	if err := ValidateModelName(name); err != nil {
		return false, err
	}
	_, err = s.store.GetModel(ctx, name)
	missing = ferry.ErrorCode(err) == ferry.ENOTFOUND
	if err != nil && !(missing && create) {
		return false, err
	}
	return missing, nil
}

// register loads and verifies the package in dir, creates the model when
// missing, copies the package into the registry's storage and records the
// version.
func (s *Service) register(ctx context.Context, name, source, runID, dir, description string, tags []Tag, missing bool) (Version, error) {
	pkg, err := model.Load(ctx, dir)
	if err != nil {
		return Version{}, fmt.Errorf("registry: %s is not a valid model package: %w", source, err)
	}
	v := Version{
		Name: name, CreationTime: s.millis(), Description: description, UserID: auth.PrincipalFrom(ctx), Stage: StageNone,
		Source: source, RunID: runID, Status: StatusReady, Tags: tags,
	}
	v.LastUpdatedTime = v.CreationTime
	v.ModelDigest = pkg.Digest()
	if v.ModelDigest == "" {
		hexDigest, err := dataset.FileDigest(ctx, filepath.Join(dir, model.ManifestFile))
		if err != nil {
			return Version{}, err
		}
		v.ModelDigest = "sha256:" + hexDigest
	}
	if info := pkg.Info; info != nil {
		v.GitCommit, v.GitDirty = info.Lineage.GitCommit, info.Lineage.GitDirty
		for _, d := range info.Lineage.Datasets {
			v.DatasetDigests = append(v.DatasetDigests, d.Digest)
		}
		if v.RunID == "" {
			v.RunID = info.Lineage.RunID
		}
	}
	// The package is valid: only now may a missing model be created, so that a
	// failed registration leaves nothing behind.
	if missing {
		if _, err := s.CreateModel(ctx, name, "", nil); err != nil && ferry.ErrorCode(err) != ferry.ECONFLICT {
			return Version{}, err
		}
	}
	if v.StorageURI, err = s.storePackage(ctx, name, dir, v.ModelDigest); err != nil {
		return Version{}, err
	}
	return s.store.CreateVersion(ctx, v, s.event(ctx, ActionCreateVersion, name, 0, "", v.ModelDigest, source))
}

// storePackage copies the package in dir, whose digest is digest, into the
// registry's storage and returns its key prefix. Storage is content-addressed:
// when a version of name already holds the same package, its copy is shared
// and nothing is written.
func (s *Service) storePackage(ctx context.Context, name, dir, digest string) (string, error) {
	vs, _, err := s.store.SearchVersions(ctx, VersionQuery{Name: name, Digest: digest, MaxResults: 1})
	if err != nil {
		return "", err
	}
	if len(vs) > 0 && vs[0].StorageURI != "" {
		return vs[0].StorageURI, nil
	}
	key := "registry/" + name + "/" + strings.TrimPrefix(digest, "sha256:")
	return key, s.upload(ctx, dir, key)
}

// resolveSource maps a model source to the artifact-store key of the
// package, the run it comes from and the source as recorded: a runs:/ source
// naming its run by a prefix is recorded with the run's full ID.
func (s *Service) resolveSource(ctx context.Context, source, runID string) (key, run, recorded string, err error) {
	switch {
	case strings.HasPrefix(source, "runs:/"):
		rest := strings.TrimPrefix(source, "runs:/")
		ref, path, _ := strings.Cut(rest, "/")
		id, err := s.runs.ResolveRunID(ctx, ref)
		if err != nil {
			return "", "", "", err
		}
		r, err := s.runs.GetRun(ctx, id)
		if err != nil {
			return "", "", "", err
		}
		root, ok := strings.CutPrefix(r.Info.ArtifactURI, "mlflow-artifacts:")
		if !ok {
			return "", "", "", invalid("The artifacts of run %s are at %s, outside this server; register from an mlflow-artifacts: URI.", id, r.Info.ArtifactURI)
		}
		k, err := blob.CleanKey(strings.TrimPrefix(root, "/") + "/" + path)
		return k, id, "runs:/" + id + strings.TrimPrefix(rest, ref), err
	case strings.HasPrefix(source, "mlflow-artifacts:"):
		k, err := blob.CleanKey(strings.TrimLeft(strings.TrimPrefix(source, "mlflow-artifacts:"), "/"))
		return k, runID, source, err
	case strings.HasPrefix(source, "models:/"+tracking.LoggedModelIDPrefix) && !strings.Contains(source[len("models:/"):], "/"):
		m, err := s.runs.GetLoggedModel(ctx, strings.TrimPrefix(source, "models:/"))
		if err != nil {
			return "", "", "", err
		}
		if m.Status == tracking.LoggedModelUploadFailed {
			return "", "", "", invalid("Logged model %s failed to upload (status %s); log it again before registering it.", m.ID, m.Status)
		}
		root, ok := strings.CutPrefix(m.ArtifactLocation, "mlflow-artifacts:")
		if !ok {
			return "", "", "", invalid("The artifacts of logged model %s are at %s, outside this server; register from an mlflow-artifacts: URI.", m.ID, m.ArtifactLocation)
		}
		k, err := blob.CleanKey(strings.TrimLeft(root, "/"))
		if runID == "" {
			runID = m.SourceRunID
		}
		return k, runID, source, err
	}
	return "", "", "", invalid("Model source %q is not supported: use runs:/<run_id>/<path> or an mlflow-artifacts: URI.", source)
}

// download copies every file under key into dir.
func (s *Service) download(ctx context.Context, key, dir string) error {
	entries, err := s.artifacts.List(ctx, key)
	if err != nil {
		return err
	}
	if len(entries) == 0 && dir != "" {
		return ferry.Errorf(ferry.ENOTFOUND, "No model package at %s: the path holds no files.", key)
	}
	for _, e := range entries {
		local := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(e.Path, key+"/")))
		if e.IsDir {
			if err := s.download(ctx, e.Path, local); err != nil {
				return err
			}
			continue
		}
		if err := s.copyOut(ctx, e.Path, local); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) copyOut(ctx context.Context, key, local string) error {
	rc, _, err := s.artifacts.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return err
	}
	f, err := os.Create(local)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return fmt.Errorf("registry: copy %s: %w", key, err)
	}
	return f.Close()
}

// upload copies every file under dir to the artifact store under key.
func (s *Service) upload(ctx context.Context, dir, key string) error {
	return model.EachFile(dir, func(rel string, r io.Reader) error {
		if _, err := s.artifacts.Put(ctx, key+"/"+rel, r); err != nil {
			return err
		}
		failpoint.Hit(failpoint.RegisterPackageFile)
		return nil
	})
}

// FetchVersion copies a version's package into dir and loads it, verifying
// every digest.
func (s *Service) FetchVersion(ctx context.Context, v Version, dir string) (*model.Package, error) {
	if err := s.download(ctx, v.StorageURI, dir); err != nil {
		return nil, err
	}
	return model.Load(ctx, dir)
}

// RegisterArchive registers the model package in the tar archive r (as
// model.WriteArchive writes a package directory; a client's upload) as a new
// version of name, as RegisterDir does; source records where the client had
// it. The archive is unpacked into a temporary directory, removed afterwards.
func (s *Service) RegisterArchive(ctx context.Context, name string, r io.Reader, source, description string, tags []Tag) (Version, error) {
	tmp, err := os.MkdirTemp("", "ferry-register-")
	if err != nil {
		return Version{}, fmt.Errorf("registry: register %s: %w", name, err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "model")
	if _, err := model.ExtractArchive(ctx, r, dir); err != nil {
		return Version{}, err
	}
	return s.RegisterDir(ctx, name, dir, source, description, tags)
}

// ExportVersion writes v's package to w as a tar archive (model.WriteArchive),
// after fetching it and verifying every digest.
func (s *Service) ExportVersion(ctx context.Context, v Version, w io.Writer) error {
	tmp, err := os.MkdirTemp("", "ferry-export-")
	if err != nil {
		return fmt.Errorf("registry: export %s v%d: %w", v.Name, v.Version, err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "model")
	if _, err := s.FetchVersion(ctx, v, dir); err != nil {
		return err
	}
	return model.WriteArchive(ctx, w, dir)
}
