package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
)

// FileDigest returns the lowercase hex SHA-256 of the bytes of the file at
// path, read in a stream. A missing file is ENOTFOUND; a read stops with ctx's
// error when ctx ends.
func FileDigest(ctx context.Context, path string) (string, error) {
	fh, err := openFile(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := fh.Read(buf)
		h.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("dataset: digest %s: %w", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// frameDigestVersion names the canonical encoding FrameDigest hashes; a change
// of encoding must change it.
const frameDigestVersion = "ferry-frame-v1"

// FrameDigest returns the lowercase hex SHA-256 of a canonical binary encoding
// of f. Integers are 8-byte little-endian; a string is its byte length then
// its bytes. The encoding is the string "ferry-frame-v1", the column count,
// then per column its name, its kind ("numeric", …), its length and its
// values: IEEE 754 bits for numbers (every NaN as 0x7FF8000000000001), Unix
// nanoseconds for timestamps (MissingTime as is), the text of each category
// (not its code) and 0xFFFFFFFFFFFFFFFF for a missing one. So the same data
// read from CSV, JSON Lines or Parquet, with levels in any order, has the
// same digest; any change of a name, kind, value or row order changes it.
func FrameDigest(f *Frame) string {
	w := digestWriter{h: sha256.New(), buf: make([]byte, 0, 64<<10)}
	w.str(frameDigestVersion)
	w.u64(uint64(len(f.Columns)))
	for _, c := range f.Columns {
		w.str(c.Name)
		w.str(string(c.Kind))
		w.u64(uint64(c.Len()))
		switch c.Kind {
		case KindNumeric:
			nan := math.Float64bits(math.NaN())
			for _, x := range c.Num {
				if math.IsNaN(x) {
					w.u64(nan)
				} else {
					w.u64(math.Float64bits(x))
				}
			}
		case KindTimestamp:
			for _, t := range c.Time {
				w.u64(uint64(t))
			}
		case KindCategorical:
			for _, code := range c.Codes {
				if code < 0 {
					w.u64(math.MaxUint64) // no string is that long
				} else {
					w.str(c.Levels[code])
				}
			}
		}
	}
	w.flush()
	return hex.EncodeToString(w.h.Sum(nil))
}

// digestWriter buffers the canonical encoding on its way to the hash.
type digestWriter struct {
	h   hash.Hash
	buf []byte
}

func (w *digestWriter) u64(v uint64) {
	w.buf = binary.LittleEndian.AppendUint64(w.buf, v)
	if len(w.buf) >= cap(w.buf)-8 {
		w.flush()
	}
}

func (w *digestWriter) str(s string) {
	w.u64(uint64(len(s)))
	for len(s) > 0 {
		n := min(len(s), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, s[:n]...)
		s = s[n:]
		if len(w.buf) == cap(w.buf) {
			w.flush()
		}
	}
}

func (w *digestWriter) flush() {
	w.h.Write(w.buf)
	w.buf = w.buf[:0]
}
