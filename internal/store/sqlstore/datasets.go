package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/ferry-ml/ferry/internal/dataset"
)

var _ dataset.AssetStore = (*DB)(nil)

const assetColumns = `name, version, uri, source, digest, format, rows, size, schema, profile, description, created_by, created_at`

func scanAsset(s scanner) (dataset.Asset, error) {
	var a dataset.Asset
	var schema, profile string
	err := s.Scan(&a.Name, &a.Version, &a.URI, &a.Source, &a.Digest, &a.Format, &a.Rows, &a.Size, &schema, &profile, &a.Description, &a.CreatedBy, &a.CreatedAt)
	if schema != "" {
		a.Schema = []byte(schema)
	}
	if profile != "" {
		a.Profile = []byte(profile)
	}
	return a, err
}

// CreateAsset implements dataset.AssetStore. Concurrent creators of the same
// asset may race for a version number; the loser retries.
func (db *DB) CreateAsset(ctx context.Context, a dataset.Asset) (dataset.Asset, bool, error) {
	for attempt := 0; ; attempt++ {
		stored, created, err := db.createAsset(ctx, a)
		if err != nil && db.d.IsUniqueViolation(err) && attempt < 10 {
			continue
		}
		return stored, created, wrap("create asset", err)
	}
}

func (db *DB) createAsset(ctx context.Context, a dataset.Asset) (dataset.Asset, bool, error) {
	var created bool
	err := db.tx(ctx, func(tx *sql.Tx) error {
		old, err := scanAsset(tx.QueryRowContext(ctx, db.q(`SELECT `+assetColumns+` FROM data_assets WHERE name = ? AND digest = ?`), a.Name, a.Digest))
		if err == nil {
			a = old
			return nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COALESCE(MAX(version), 0) + 1 FROM data_assets WHERE name = ?`), a.Name).Scan(&a.Version); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO data_assets (`+assetColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			a.Name, a.Version, a.URI, a.Source, a.Digest, a.Format, a.Rows, a.Size, string(a.Schema), string(a.Profile), a.Description, a.CreatedBy, a.CreatedAt)
		created = err == nil
		return err
	})
	return a, created, err
}

// GetAsset implements dataset.AssetStore.
func (db *DB) GetAsset(ctx context.Context, name string, version int) (dataset.Asset, error) {
	query, args := `SELECT `+assetColumns+` FROM data_assets WHERE name = ? AND version = ?`, []any{name, version}
	if version == 0 {
		query, args = `SELECT `+assetColumns+` FROM data_assets WHERE name = ? ORDER BY version DESC LIMIT 1`, []any{name}
	}
	a, err := scanAsset(db.r.QueryRowContext(ctx, db.q(query), args...))
	if errors.Is(err, sql.ErrNoRows) {
		if version == 0 {
			return a, notFound("No data asset named '%s'. List them with: ferry data list", name)
		}
		return a, notFound("Data asset '%s' has no version %d. List them with: ferry data versions %s", name, version, name)
	}
	return a, wrap("get asset", err)
}

// ListAssets implements dataset.AssetStore.
func (db *DB) ListAssets(ctx context.Context) ([]dataset.Asset, error) {
	return db.assets(ctx, `SELECT `+assetColumns+` FROM data_assets a WHERE version = (SELECT MAX(version) FROM data_assets b WHERE b.name = a.name) ORDER BY name`)
}

// ListAssetVersions implements dataset.AssetStore.
func (db *DB) ListAssetVersions(ctx context.Context, name string) ([]dataset.Asset, error) {
	out, err := db.assets(ctx, `SELECT `+assetColumns+` FROM data_assets WHERE name = ? ORDER BY version DESC`, name)
	if err == nil && len(out) == 0 {
		return nil, notFound("No data asset named '%s'. List them with: ferry data list", name)
	}
	return out, err
}

func (db *DB) assets(ctx context.Context, query string, args ...any) ([]dataset.Asset, error) {
	var out []dataset.Asset
	err := db.each(ctx, query, args, func(s scanner) error {
		a, err := scanAsset(s)
		out = append(out, a)
		return err
	})
	return out, wrap("list assets", err)
}
