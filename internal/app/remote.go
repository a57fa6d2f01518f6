package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/registry"
)

// Remote gives the services' consumer interfaces over a Ferry server's HTTP
// API, so that a use case that runs in the command line (training,
// validation, packaging, batch scoring, serving) works the same against a
// remote server as against the local data directory (which the command line
// serves on a loopback port). It is safe for concurrent use.
type Remote struct {
	Client *client.Client
	// Cache holds downloaded data asset versions, keyed by digest.
	Cache string
}

// Resolve implements runtime.VersionSource.
func (r Remote) Resolve(ctx context.Context, uri string) (registry.Version, error) {
	mv, err := r.Client.Resolve(ctx, uri)
	if err != nil {
		return registry.Version{}, serverError(err)
	}
	return versionOf(mv), nil
}

// FetchVersion implements runtime.VersionSource: it downloads v's package
// into dir and verifies every file against its ferry.json, and ferry.json
// against the digest the registry recorded.
func (r Remote) FetchVersion(ctx context.Context, v registry.Version, dir string) (*model.Package, error) {
	rc, err := r.Client.DownloadPackage(ctx, v.Name, v.Version)
	if err != nil {
		return nil, serverError(err)
	}
	defer rc.Close()
	pkg, err := model.ExtractArchive(ctx, rc, dir)
	if err != nil {
		return nil, fmt.Errorf("fetch %s version %d: %w", v.Name, v.Version, err)
	}
	if pkg.Verified() && v.ModelDigest != "" && pkg.Digest() != v.ModelDigest {
		_ = os.RemoveAll(dir)
		return nil, ferry.Errorf(ferry.EINVALID, "%s version %d: the downloaded package's digest %s is not the registered %s", v.Name, v.Version, pkg.Digest(), v.ModelDigest)
	}
	return pkg, nil
}

// RecordCheck records a check's verdict on a version as the principal in ctx.
func (r Remote) RecordCheck(ctx context.Context, name string, version int, kind, verdict, details string) error {
	var d any
	if details != "" {
		d = rawJSON(details)
	}
	_, err := r.Client.As(auth.PrincipalFrom(ctx)).RecordCheck(ctx, name, version, kind, verdict, d)
	return serverError(err)
}

// ResolveData returns a local file holding the data asset version ref names,
// downloading it into the cache (checked against its digest) when it is not
// there yet.
func (r Remote) ResolveData(ctx context.Context, ref string) (string, dataset.Asset, error) {
	name, version, err := dataset.ParseRef(ref)
	if err != nil {
		return "", dataset.Asset{}, err
	}
	da, err := r.Client.GetData(ctx, name, version)
	if err != nil {
		return "", dataset.Asset{}, serverError(err)
	}
	a := assetOf(da)
	hexDigest := strings.TrimPrefix(a.Digest, "sha256:")
	local := filepath.Join(r.Cache, hexDigest, filepath.Base(filepath.FromSlash(a.URI)))
	if _, err := os.Stat(local); err == nil {
		return local, a, nil
	}
	rc, err := r.Client.DownloadData(ctx, a.Name, a.Version)
	if err != nil {
		return "", a, serverError(err)
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return "", a, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(local), ".download-*")
	if err != nil {
		return "", a, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), rc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", a, fmt.Errorf("download %s: %w", ref, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != hexDigest {
		return "", a, ferry.Errorf(ferry.EINVALID, "download of %s: the bytes' digest sha256:%s is not the registered %s; try again", ref, got, a.Digest)
	}
	if err := os.Rename(tmp.Name(), local); err != nil {
		return "", a, err
	}
	return local, a, nil
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// serverError turns a server's error answer into a *ferry.Error with the
// same code and message, so that callers and exit codes treat remote and
// local errors alike.
func serverError(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) {
		return &ferry.Error{Code: ce.Code, Message: ce.Message}
	}
	return err
}

func versionOf(mv client.ModelVersion) registry.Version {
	v := registry.Version{
		Name: mv.Name, Version: mv.Version, CreationTime: mv.CreationTimestamp, LastUpdatedTime: mv.LastUpdatedTimestamp,
		Description: mv.Description, UserID: mv.UserID, Stage: mv.CurrentStage, Source: mv.Source, RunID: mv.RunID,
		Status: mv.Status, StatusMessage: mv.StatusMessage, Aliases: mv.Aliases, StorageURI: mv.ArtifactURI,
		ModelDigest: mv.ModelDigest, GitCommit: mv.GitCommit, GitDirty: mv.GitDirty, DatasetDigests: mv.DatasetDigests,
	}
	for _, t := range mv.Tags {
		v.Tags = append(v.Tags, registry.Tag{Key: t.Key, Value: t.Value})
	}
	return v
}

func assetOf(d client.DataAsset) dataset.Asset {
	return dataset.Asset{
		Name: d.Name, Version: d.Version, URI: d.URI, Source: d.Source, Digest: d.Digest, Format: d.Format, Rows: d.Rows,
		Size: d.Size, Schema: d.Schema, Profile: d.Profile, Description: d.Description, CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt,
	}
}
