package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// DataAsset is a version of a data asset.
type DataAsset struct {
	Name        string          `json:"name"`
	Version     int             `json:"version"`
	URI         string          `json:"uri"`
	Source      string          `json:"source"`
	Digest      string          `json:"digest"`
	Format      string          `json:"format"`
	Rows        int64           `json:"rows"`
	Size        int64           `json:"size"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Profile     json.RawMessage `json:"profile,omitempty"`
	Description string          `json:"description,omitempty"`
	CreatedBy   string          `json:"created_by,omitempty"`
	CreatedAt   int64           `json:"created_at"`
}

// Progress reports bytes done of total (0 when unknown).
type Progress func(done, total int64)

// Upload is a file staged on the server in parts.
type Upload struct {
	ID    string
	Parts int
	Size  int64
}

// partRetries is how often one part is sent again after a network error or
// a 5xx before the upload fails.
const partRetries = 4

// UploadFile sends the file at path to the server in parts, retrying each
// part that fails on the way, and reports progress. Name the returned
// upload where a file is expected (CreateDataVersion, RegisterPackage).
func (c *Client) UploadFile(ctx context.Context, path string, progress Progress) (Upload, error) {
	f, err := os.Open(path)
	if err != nil {
		return Upload{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Upload{}, err
	}
	var start struct {
		UploadID string `json:"upload_id"`
		PartSize int64  `json:"part_size"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/uploads", nil, struct{}{}, &start); err != nil {
		return Upload{}, err
	}
	size := st.Size()
	part := start.PartSize
	if part <= 0 {
		part = 16 << 20
	}
	up := Upload{ID: start.UploadID, Size: size}
	for off := int64(0); off < size || up.Parts == 0; off += part {
		up.Parts++
		n := min(part, size-off)
		if err := c.putPart(ctx, up.ID, up.Parts, io.NewSectionReader(f, off, n)); err != nil {
			return Upload{}, fmt.Errorf("client: upload %s part %d: %w", filepath.Base(path), up.Parts, err)
		}
		if progress != nil {
			progress(off+n, size)
		}
	}
	return up, nil
}

// putPart sends one part, again after transient failures.
func (c *Client) putPart(ctx context.Context, id string, n int, r *io.SectionReader) error {
	var err error
	for attempt := 0; attempt <= partRetries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 200 * time.Millisecond):
			}
			if _, serr := r.Seek(0, io.SeekStart); serr != nil {
				return serr
			}
		}
		var resp *http.Response
		resp, err = c.send(ctx, http.MethodPut, "/api/v1/uploads/"+id+"/parts/"+strconv.Itoa(n), nil, r, "application/octet-stream")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		var e *Error
		if ctx.Err() != nil || (errors.As(err, &e) && e.Status < 500) {
			return err
		}
	}
	return err
}

// CreateDataVersion registers the uploaded file as a version of the data
// asset name. source names the file (its extension says the format). The
// same bytes give the existing version with created false.
func (c *Client) CreateDataVersion(ctx context.Context, name string, up Upload, source, description string) (DataAsset, bool, error) {
	req := map[string]any{"upload_id": up.ID, "parts": up.Parts, "source": source, "description": description}
	var out struct {
		Asset   DataAsset `json:"asset"`
		Created bool      `json:"created"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/data"+pathEscape(name)+"/versions", nil, req, &out)
	return out.Asset, out.Created, err
}

// ListData returns the latest version of every data asset.
func (c *Client) ListData(ctx context.Context) ([]DataAsset, error) {
	var out struct {
		Assets []DataAsset `json:"assets"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/data", nil, nil, &out)
	return out.Assets, err
}

// DataVersions returns every version of a data asset, newest first.
func (c *Client) DataVersions(ctx context.Context, name string) ([]DataAsset, error) {
	var out struct {
		Assets []DataAsset `json:"assets"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/data"+pathEscape(name)+"/versions", nil, nil, &out)
	return out.Assets, err
}

// GetData returns a version of a data asset; version 0 is the latest.
func (c *Client) GetData(ctx context.Context, name string, version int) (DataAsset, error) {
	v := "latest"
	if version > 0 {
		v = strconv.Itoa(version)
	}
	var out struct {
		Asset DataAsset `json:"asset"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/data"+pathEscape(name, "versions", v), nil, nil, &out)
	return out.Asset, err
}

// DownloadData opens the bytes of a data asset version.
func (c *Client) DownloadData(ctx context.Context, name string, version int) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/data"+pathEscape(name, "versions", strconv.Itoa(version), "content"), nil, nil, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// DownloadPackage opens a model version's package as a tar archive.
func (c *Client) DownloadPackage(ctx context.Context, name string, version int) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/models"+pathEscape(name, "versions", strconv.Itoa(version), "package"), nil, nil, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
