package dataset

import (
	"context"
	"encoding/json"
)

// Asset is one immutable version of a registered data asset: a file with its
// digest, schema and profile. The same bytes always map to the same version.
type Asset struct {
	Name        string          `json:"name"`
	Version     int             `json:"version"`
	URI         string          `json:"uri"`    // where the bytes live in the artifact store
	Source      string          `json:"source"` // where they were registered from
	Digest      string          `json:"digest"` // "sha256:<hex>" of the file's bytes
	Format      string          `json:"format"` // csv, parquet, jsonl
	Rows        int64           `json:"rows"`
	Size        int64           `json:"size"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Profile     json.RawMessage `json:"profile,omitempty"`
	Description string          `json:"description,omitempty"`
	CreatedBy   string          `json:"created_by,omitempty"`
	CreatedAt   int64           `json:"created_at"` // ms since the Unix epoch
}

// AssetStore persists data-asset versions. Implementations are safe for
// concurrent use; unknown names or versions are ENOTFOUND.
type AssetStore interface {
	// CreateAsset stores a as the next version of a.Name, or, when a version
	// with a.Digest exists, returns that version unchanged and created false.
	CreateAsset(ctx context.Context, a Asset) (stored Asset, created bool, err error)
	// GetAsset returns a version; version 0 means the latest.
	GetAsset(ctx context.Context, name string, version int) (Asset, error)
	// ListAssets returns the latest version of every asset, by name.
	ListAssets(ctx context.Context) ([]Asset, error)
	// ListAssetVersions returns every version of an asset, newest first.
	ListAssetVersions(ctx context.Context, name string) ([]Asset, error)
}
