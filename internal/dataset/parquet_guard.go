package dataset

import (
	"encoding/binary"
	"fmt"

	"github.com/parquet-go/parquet-go/format"
)

// checkCompressed checks a compressed page body against the size its header
// claims, for the codecs whose parquet-go decoders allocate from the data
// before validating it: Snappy (the block's length prefix, up to 4 GiB),
// ZSTD (the frames' content sizes) and LZ4_RAW (whose decoder doubles its
// buffer without end on corrupt input). GZIP and BROTLI decode as a stream,
// bounded by the data itself.
func checkCompressed(codec format.CompressionCodec, body []byte, uncompressed int) error {
	switch codec {
	case format.Snappy:
		v, n := binary.Uvarint(body)
		if n <= 0 || v > uint64(uncompressed) {
			return fmt.Errorf("a snappy block claims %d bytes in a page of %d", v, uncompressed)
		}
	case format.Zstd:
		size, err := zstdContentBound(body)
		if err != nil {
			return err
		}
		if size > maxPageBytes {
			return fmt.Errorf("zstd data of up to %d bytes in a page of %d", size, uncompressed)
		}
	case format.Lz4Raw:
		if !validLZ4Block(body, uncompressed) {
			return fmt.Errorf("corrupt LZ4 block")
		}
	}
	return nil
}

// zstdContentBound walks the frames and blocks of zstd data and returns the
// most bytes it can decode to: the frame content sizes where frames give
// them, otherwise the block sizes (128 KiB for a compressed block).
func zstdContentBound(src []byte) (uint64, error) {
	corrupt := fmt.Errorf("corrupt zstd data")
	var total uint64
	for len(src) > 0 {
		if len(src) < 4 {
			return 0, corrupt
		}
		magic := binary.LittleEndian.Uint32(src)
		if magic&0xFFFFFFF0 == 0x184D2A50 { // skippable frame
			if len(src) < 8 {
				return 0, corrupt
			}
			n := uint64(binary.LittleEndian.Uint32(src[4:]))
			if n > uint64(len(src)-8) {
				return 0, corrupt
			}
			src = src[8+n:]
			continue
		}
		if magic != 0xFD2FB528 || len(src) < 5 {
			return 0, corrupt
		}
		fhd := src[4]
		src = src[5:]
		single := fhd >> 5 & 1
		if fhd&0x08 != 0 {
			return 0, corrupt // reserved bit
		}
		skip := int(1 - single)                         // window descriptor
		skip += [4]int{0, 1, 2, 4}[fhd&3]               // dictionary id
		fcsSize := [4]int{int(single), 2, 4, 8}[fhd>>6] // frame content size
		if len(src) < skip+fcsSize {
			return 0, corrupt
		}
		src = src[skip:]
		var fcs uint64
		known := true
		switch fcsSize {
		case 0:
			known = false
		case 1:
			fcs = uint64(src[0])
		case 2:
			fcs = uint64(binary.LittleEndian.Uint16(src)) + 256
		case 4:
			fcs = uint64(binary.LittleEndian.Uint32(src))
		case 8:
			fcs = binary.LittleEndian.Uint64(src)
		}
		src = src[fcsSize:]
		var blocks uint64
		for last := false; !last; {
			if len(src) < 3 {
				return 0, corrupt
			}
			h := uint32(src[0]) | uint32(src[1])<<8 | uint32(src[2])<<16
			src = src[3:]
			last = h&1 == 1
			size := uint64(h >> 3)
			switch (h >> 1) & 3 {
			case 0: // raw
				if size > uint64(len(src)) {
					return 0, corrupt
				}
				src = src[size:]
				blocks += size
			case 1: // RLE: one byte, repeated size times
				if len(src) < 1 {
					return 0, corrupt
				}
				src = src[1:]
				blocks += size
			case 2: // compressed
				if size > uint64(len(src)) {
					return 0, corrupt
				}
				src = src[size:]
				blocks += 128 << 10
			default:
				return 0, corrupt
			}
		}
		if fhd>>2&1 == 1 { // content checksum
			if len(src) < 4 {
				return 0, corrupt
			}
			src = src[4:]
		}
		if known {
			total += fcs
		} else {
			total += blocks
		}
		if total > 1<<40 {
			return 0, corrupt
		}
	}
	return total, nil
}

// validLZ4Block reports whether src is an LZ4 block that decodes to at most
// maxOut bytes. It follows the rules of the decoder parquet-go uses
// (github.com/pierrec/lz4): an empty block is valid; literals and matches
// must stay within the input and the output; a match offset must be between
// 1 and the bytes decoded so far; the block may end only after literals with
// no match, or after a match.
func validLZ4Block(src []byte, maxOut int) bool {
	si, di := 0, 0
	for si < len(src) {
		b := src[si]
		si++
		lit := int(b >> 4)
		if lit == 15 {
			for {
				if si >= len(src) {
					return false
				}
				x := src[si]
				si++
				lit += int(x)
				if lit > maxOut {
					return false
				}
				if x != 255 {
					break
				}
			}
		}
		if si+lit > len(src) || di+lit > maxOut {
			return false
		}
		si += lit
		di += lit
		m := int(b & 15)
		if si == len(src) && m == 0 {
			return true
		}
		if si+2 > len(src) {
			return false
		}
		off := int(src[si]) | int(src[si+1])<<8
		si += 2
		if off == 0 || off > di {
			return false
		}
		m += 4
		if m == 19 {
			for {
				if si >= len(src) {
					return false
				}
				x := src[si]
				si++
				m += int(x)
				if m > maxOut {
					return false
				}
				if x != 255 {
					break
				}
			}
		}
		if di+m > maxOut {
			return false
		}
		di += m
	}
	return true
}
