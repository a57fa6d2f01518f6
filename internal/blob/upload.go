package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/ferry-ml/ferry"
)

// MaxUploadParts bounds the parts of one upload.
const MaxUploadParts = 10000

// Uploads stages bytes a client sends in numbered parts under
// "uploads/<id>/" of a Store, so that a large file crosses the network in
// pieces that can each be retried, and any replica of a server can assemble
// it. Parts are objects like any other: putting a part again replaces it.
type Uploads struct{ Store Store }

var uploadID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// NewUploadID returns a fresh upload id.
func NewUploadID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func partKey(id string, n int) string { return fmt.Sprintf("uploads/%s/part-%05d", id, n) }

func checkUpload(id string) error {
	if !uploadID.MatchString(id) {
		return ferry.Errorf(ferry.EINVALID, "upload id %q: want the 32 hex digits the server gave", clip(id))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// PutPart stores part n (1-based) of upload id from r.
func (u Uploads) PutPart(ctx context.Context, id string, n int, r io.Reader) (int64, error) {
	if err := checkUpload(id); err != nil {
		return 0, err
	}
	if n < 1 || n > MaxUploadParts {
		return 0, ferry.Errorf(ferry.EINVALID, "upload part %d: parts are numbered 1 to %d", n, MaxUploadParts)
	}
	return u.Store.Put(ctx, partKey(id, n), r)
}

// Open returns the parts 1..parts of upload id read one after the other,
// and their total size. A missing part is EINVALID naming it.
func (u Uploads) Open(ctx context.Context, id string, parts int) (io.ReadCloser, int64, error) {
	if err := checkUpload(id); err != nil {
		return nil, 0, err
	}
	if parts < 1 || parts > MaxUploadParts {
		return nil, 0, ferry.Errorf(ferry.EINVALID, "upload %s: %d parts; want 1 to %d", id, parts, MaxUploadParts)
	}
	var size int64
	for n := 1; n <= parts; n++ {
		info, err := u.Store.Stat(ctx, partKey(id, n))
		if ferry.ErrorCode(err) == ferry.ENOTFOUND {
			return nil, 0, ferry.Errorf(ferry.EINVALID, "upload %s: part %d of %d never arrived; send it again", id, n, parts)
		} else if err != nil {
			return nil, 0, err
		}
		size += info.Size
	}
	return &partsReader{ctx: ctx, store: u.Store, id: id, parts: parts}, size, nil
}

// Discard removes every part of upload id.
func (u Uploads) Discard(ctx context.Context, id string) error {
	if err := checkUpload(id); err != nil {
		return err
	}
	return u.Store.Delete(ctx, "uploads/"+id)
}

// partsReader reads parts 1..parts in order, opening each when it is reached.
type partsReader struct {
	ctx   context.Context
	store Store
	id    string
	parts int
	n     int
	cur   io.ReadCloser
}

func (p *partsReader) Read(b []byte) (int, error) {
	for {
		if p.cur == nil {
			if p.n >= p.parts {
				return 0, io.EOF
			}
			p.n++
			rc, _, err := p.store.Get(p.ctx, partKey(p.id, p.n))
			if err != nil {
				return 0, fmt.Errorf("upload %s part %d: %w", p.id, p.n, err)
			}
			p.cur = rc
		}
		n, err := p.cur.Read(b)
		if errors.Is(err, io.EOF) {
			err = p.cur.Close()
			p.cur = nil
			if n > 0 || err != nil {
				return n, err
			}
			continue
		}
		return n, err
	}
}

func (p *partsReader) Close() error {
	if p.cur != nil {
		return p.cur.Close()
	}
	return nil
}
