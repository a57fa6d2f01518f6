package dataset

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/ferry-ml/ferry"
)

// ReadParquet reads the Parquet file r, of size bytes, into a frame; name is
// the file name used in error messages. Top-level and nested (dotted-name)
// non-repeated columns are read page by page, in parallel across columns:
//
//   - INT32, INT64 (signed, unsigned, DECIMAL scaled), FLOAT, DOUBLE and
//     BOOLEAN (0/1) become numeric; TIME becomes seconds since midnight;
//   - INT64 TIMESTAMP (milli-, micro- or nanoseconds, UTC-adjusted or not),
//     INT32 DATE and INT96 become timestamps;
//   - BYTE_ARRAY (strings, enums, JSON) and UUID become categorical, with
//     levels in first-seen order whether or not they are dictionary-encoded.
//
// Nulls are missing values. opts.Types converts a column after reading
// (anything to categorical, categorical to numeric or timestamp); Header,
// Delimiter and SkipLines do not apply.
//
// A file that is not Parquet, is truncated or corrupt, or holds a column of
// another type (lists, maps, other fixed-length arrays) gives an EINVALID
// error naming the file (and the column, where known); a panic inside the
// Parquet library is turned into such an error.
func ReadParquet(ctx context.Context, r io.ReaderAt, size int64, name string, opts ReadOptions) (f *Frame, err error) {
	if err := opts.validate(name); err != nil {
		return nil, err
	}
	pf, err := openParquet(r, size, name, 256<<10)
	if err != nil {
		return nil, err
	}
	var cols []*pqColumn
	var names []string
	err = safely(name, "", func() error {
		for _, path := range pf.Schema().Columns() {
			leaf, ok := pf.Schema().Lookup(path...)
			if !ok {
				return fmt.Errorf("no leaf column %v", path)
			}
			c := newPQColumn(strings.Join(path, "."), leaf)
			cols = append(cols, c)
			names = append(names, c.name)
		}
		return nil
	})
	if err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "%s: not a readable Parquet file: %s", name, cleanParquetError(err))
	}
	sel, err := selectColumns(name, names, opts)
	if err != nil {
		return nil, err
	}
	chosen := make([]*pqColumn, len(sel.order))
	for j, i := range sel.order {
		c := cols[i]
		if c.unsupported != "" {
			return nil, ferry.Errorf(ferry.EINVALID, "%s: column '%s' is %s, which Ferry does not read; leave it out with the Columns option", name, c.name, c.unsupported)
		}
		chosen[j] = c
	}

	if err := checkPages(r, size, name, pf, chosen); err != nil {
		return nil, err
	}
	rowGroups := pf.RowGroups()
	var total int64
	for _, rg := range rowGroups {
		if rg.NumRows() < 0 || total+rg.NumRows() < total {
			return nil, ferry.Errorf(ferry.EINVALID, "%s: corrupt Parquet file: a row group has %d rows", name, rg.NumRows())
		}
		total += rg.NumRows()
	}
	if opts.MaxRows > 0 && int64(opts.MaxRows) < total {
		total = int64(opts.MaxRows)
	}
	// Preallocate from the metadata, but not more than the file can plausibly
	// hold, so that a corrupt footer cannot make us allocate terabytes.
	prealloc := min(total, 16*size+1024)

	var wg sync.WaitGroup
	errs := make([]error, len(chosen))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for j, c := range chosen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[j] = safely(name, c.name, func() error { return c.read(ctx, name, rowGroups, total, int(prealloc)) })
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	f = &Frame{Columns: make([]*Column, len(chosen))}
	for j, c := range chosen {
		col := c.column()
		if k := sel.kinds[j]; k != "" && k != col.Kind {
			if col, err = convertKind(name, col, k); err != nil {
				return nil, err
			}
		}
		f.Columns[j] = col
	}
	return f, nil
}

// openParquet opens the Parquet file r of size bytes after checkParquetFrame,
// with the metadata parquet-go reads guarded: errors are EINVALID naming name.
// bufSize is the read buffer of each column.
func openParquet(r io.ReaderAt, size int64, name string, bufSize int) (*parquet.File, error) {
	if err := checkParquetFrame(r, size, name); err != nil {
		return nil, err
	}
	var pf *parquet.File
	err := safely(name, "", func() error {
		var err error
		pf, err = parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(bufSize))
		return err
	})
	if err != nil {
		if ferry.ErrorCode(err) == ferry.EINVALID {
			return nil, err
		}
		return nil, ferry.Errorf(ferry.EINVALID, "%s: not a readable Parquet file: %s", name, cleanParquetError(err))
	}
	return pf, nil
}

// checkParquetFrame checks the magic bytes and the footer length before
// parquet-go sees the file: it allocates the footer's claimed length before
// checking it against the file size, so a corrupt length could make it
// allocate gigabytes.
func checkParquetFrame(r io.ReaderAt, size int64, name string) error {
	if size < 12 {
		return ferry.Errorf(ferry.EINVALID, "%s: not a Parquet file (%d bytes is too short)", name, size)
	}
	var head [4]byte
	var tail [8]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return readError(name, err)
	}
	if _, err := r.ReadAt(tail[:], size-8); err != nil && !(errors.Is(err, io.EOF)) {
		return readError(name, err)
	}
	switch {
	case string(head[:]) == "PARE" || string(tail[4:]) == "PARE":
		return ferry.Errorf(ferry.EINVALID, "%s: encrypted Parquet files are not supported", name)
	case string(head[:]) != "PAR1":
		return ferry.Errorf(ferry.EINVALID, "%s: not a Parquet file (no PAR1 magic at the start)", name)
	case string(tail[4:]) != "PAR1":
		return ferry.Errorf(ferry.EINVALID, "%s: not a readable Parquet file: no PAR1 magic at the end (truncated?)", name)
	}
	if footer := int64(binary.LittleEndian.Uint32(tail[:4])); footer > size-12 {
		return ferry.Errorf(ferry.EINVALID, "%s: not a readable Parquet file: its footer claims %d bytes of %d (truncated?)", name, footer, size)
	}
	return nil
}

// Limits of checkPages on one page.
const (
	maxPageBytes  = 256 << 20 // compressed or uncompressed
	maxPageValues = 1 << 24   // or 64 per uncompressed byte, whichever is more
	maxHeaderSize = 16 << 20
)

// checkPages walks the page headers of the chosen columns' chunks before
// parquet-go reads them: parquet-go allocates what a page header claims (page
// sizes, value counts, statistics lengths) before reading, so a corrupt header
// could make it allocate gigabytes. Each chunk must lie inside the file, each
// page inside its chunk, and sizes and value counts must be within limits.
func checkPages(r io.ReaderAt, size int64, name string, pf *parquet.File, chosen []*pqColumn) error {
	for g := range pf.Metadata().RowGroups {
		if err := checkGroupPages(r, size, name, pf, g, chosen); err != nil {
			return err
		}
	}
	return nil
}

// checkGroupPages is checkPages for row group g.
func checkGroupPages(r io.ReaderAt, size int64, name string, pf *parquet.File, g int, chosen []*pqColumn) error {
	proto := &thrift.CompactProtocol{}
	buf := make([]byte, 1024)
	rg := &pf.Metadata().RowGroups[g]
	for _, c := range chosen {
		if c.leaf >= len(rg.Columns) {
			continue // reported when reading
		}
		corrupt := func(format string, args ...any) error {
			return ferry.Errorf(ferry.EINVALID, "%s column '%s': corrupt Parquet data in row group %d: %s", name, c.name, g, fmt.Sprintf(format, args...))
		}
		meta := &rg.Columns[c.leaf].MetaData
		start := meta.DataPageOffset
		if meta.DictionaryPageOffset != 0 {
			start = meta.DictionaryPageOffset
		}
		end := start + meta.TotalCompressedSize
		if start < 4 || meta.TotalCompressedSize < 0 || end > size || end < start {
			return corrupt("the column chunk lies outside the file")
		}
		for pos := start; pos < end; {
			var h format.PageHeader
			hlen := 0
			for window := int64(len(buf)); ; window *= 2 {
				n := min(window, end-pos)
				if int64(len(buf)) < n {
					buf = make([]byte, n)
				}
				if _, err := r.ReadAt(buf[:n], pos); err != nil && !errors.Is(err, io.EOF) {
					return readError(name, err)
				}
				hr := proto.NewReaderFromBytes(buf[:n])
				h = format.PageHeader{}
				err := thrift.NewDecoder(hr).Decode(&h)
				if err == nil {
					rest, ok := hr.Reader().(interface{ Len() int })
					if !ok {
						return corrupt("cannot measure a page header")
					}
					hlen = int(n) - rest.Len()
					break
				}
				if n == end-pos || window >= maxHeaderSize {
					return corrupt("unreadable page header")
				}
			}
			body := int64(h.CompressedPageSize)
			switch {
			case body < 0 || pos+int64(hlen)+body > end:
				return corrupt("a page of %d bytes overruns its column chunk", body)
			case h.UncompressedPageSize < 0 || h.UncompressedPageSize > maxPageBytes || body > maxPageBytes:
				return corrupt("a page claims %d bytes", h.UncompressedPageSize)
			}
			var values int64
			switch {
			case h.DataPageHeader.Valid:
				values = int64(h.DataPageHeader.V.NumValues)
			case h.DataPageHeaderV2.Valid:
				values = int64(max(h.DataPageHeaderV2.V.NumValues, h.DataPageHeaderV2.V.NumRows))
			case h.DictionaryPageHeader.Valid:
				values = int64(h.DictionaryPageHeader.V.NumValues)
			}
			if values < 0 || values > max(maxPageValues, 64*int64(h.UncompressedPageSize)) {
				return corrupt("a page claims %d values in %d bytes", values, h.UncompressedPageSize)
			}
			if err := checkPageBody(r, meta.Codec, &h, pos+int64(hlen), body); err != nil {
				return corrupt("%v", err)
			}
			pos += int64(hlen) + body
		}
	}
	return nil
}

// checkPageBody reads the compressed part of a page body, for the codecs that
// checkCompressed inspects, and checks it.
func checkPageBody(r io.ReaderAt, codec format.CompressionCodec, h *format.PageHeader, at, size int64) error {
	if codec != format.Snappy && codec != format.Zstd && codec != format.Lz4Raw {
		return nil
	}
	if v2 := h.DataPageHeaderV2; v2.Valid {
		if v2.V.IsCompressed.Valid && !v2.V.IsCompressed.V {
			return nil
		}
		levels := int64(v2.V.RepetitionLevelsByteLength) + int64(v2.V.DefinitionLevelsByteLength)
		if levels < 0 || levels > size {
			return fmt.Errorf("levels of %d bytes in a page of %d", levels, size)
		}
		at, size = at+levels, size-levels
	}
	if codec == format.Snappy {
		size = min(size, binary.MaxVarintLen64)
	}
	body := make([]byte, size)
	if _, err := r.ReadAt(body, at); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return checkCompressed(codec, body, int(h.UncompressedPageSize))
}

// safely runs fn, turning a panic into an EINVALID error about file (and
// column, when given).
func safely(file, column string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			where := file
			if column != "" {
				where += " column '" + column + "'"
			}
			err = ferry.Errorf(ferry.EINVALID, "%s: corrupt or unsupported Parquet data", where)
		}
	}()
	return fn()
}

// cleanParquetError shortens an error of the Parquet library for users.
func cleanParquetError(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "the file is truncated"
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "parquet: ")
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}

// pqColumn reads one leaf column of a Parquet file into a frame column.
type pqColumn struct {
	name        string
	leaf        int  // leaf column index in the file
	maxDef      byte // definition level of a present value
	kind        Kind // of the frame column
	phys        parquet.Kind
	fallback    bool   // read through the generic value reader
	unsupported string // why the column cannot be read, or ""

	scale    float64 // numeric: divide stored integers (DECIMAL), 1 otherwise
	unsigned bool    // numeric: stored integers are unsigned
	unit     int64   // timestamp: nanoseconds per stored unit (INT32 DATE: a day)
	uuid     bool    // categorical: 16-byte UUIDs

	num    []float64
	tim    []int64
	codes  []int32
	levels []string
	index  map[string]int32

	dict     parquet.Dictionary // the dictionary the caches below hold
	dictNum  []float64
	dictTim  []int64
	dictCode []int32 // dictionary index → code, -2 until first seen
	valsNum  []float64
	valsTim  []int64
	valsCode []int32
	generic  []parquet.Value
}

func newPQColumn(name string, leaf parquet.LeafColumn) *pqColumn {
	c := &pqColumn{name: name, leaf: leaf.ColumnIndex, scale: 1}
	if leaf.MaxRepetitionLevel > 0 {
		c.unsupported = "a repeated field (list or map)"
		return c
	}
	if leaf.MaxDefinitionLevel > 255 {
		c.unsupported = "nested too deeply"
		return c
	}
	c.maxDef = byte(leaf.MaxDefinitionLevel)
	typ := leaf.Node.Type()
	c.phys = typ.Kind()
	lt := typ.LogicalType()
	var logical format.LogicalTypeValue
	if lt != nil {
		logical = lt.Value
	}
	ct := typ.ConvertedType()
	switch c.phys {
	case parquet.Boolean:
		c.kind, c.fallback = KindNumeric, true
	case parquet.Float, parquet.Double:
		c.kind = KindNumeric
	case parquet.Int32, parquet.Int64:
		c.kind = KindNumeric
		switch l := logical.(type) {
		case *format.TimestampType:
			if c.phys == parquet.Int64 && l.Unit.Value != nil {
				c.kind, c.unit = KindTimestamp, int64(l.Unit.Value.Duration())
			}
		case *format.DateType:
			c.kind, c.unit = KindTimestamp, 86400e9
		case *format.DecimalType:
			c.scale = math.Pow10(int(l.Scale))
		case *format.IntType:
			c.unsigned = !l.IsSigned
		case *format.TimeType:
			if l.Unit.Value != nil {
				c.scale = 1e9 / float64(l.Unit.Value.Duration()) // stored units per second
			}
		case nil:
			if ct != nil {
				switch *ct {
				case deprecated.TimestampMillis:
					c.kind, c.unit = KindTimestamp, 1e6
				case deprecated.TimestampMicros:
					c.kind, c.unit = KindTimestamp, 1e3
				case deprecated.Date:
					c.kind, c.unit = KindTimestamp, 86400e9
				case deprecated.Uint8, deprecated.Uint16, deprecated.Uint32, deprecated.Uint64:
					c.unsigned = true
				}
			}
		}
		if c.kind == KindTimestamp && c.unit <= 0 {
			c.unsupported = "a timestamp of unknown unit"
		}
	case parquet.Int96:
		c.kind = KindTimestamp
	case parquet.ByteArray:
		c.kind = KindCategorical
		if _, ok := logical.(*format.DecimalType); ok {
			c.unsupported = "a byte-array DECIMAL"
		}
	case parquet.FixedLenByteArray:
		if _, ok := logical.(*format.UUIDType); ok && typ.Length() == 16 {
			c.kind, c.uuid, c.fallback = KindCategorical, true, true
		} else {
			c.unsupported = fmt.Sprintf("a fixed-length byte array (%s)", typ)
		}
	default:
		c.unsupported = fmt.Sprintf("of type %s", typ)
	}
	return c
}

// read reads the column from every row group, up to total rows.
func (c *pqColumn) read(ctx context.Context, file string, rowGroups []parquet.RowGroup, total int64, prealloc int) error {
	switch c.kind {
	case KindNumeric:
		c.num = make([]float64, 0, prealloc)
	case KindTimestamp:
		c.tim = make([]int64, 0, prealloc)
	case KindCategorical:
		c.codes = make([]int32, 0, prealloc)
		c.index = map[string]int32{}
	}
	var done int64
	for g, rg := range rowGroups {
		if done >= total {
			break
		}
		want := min(rg.NumRows(), total-done)
		chunks := rg.ColumnChunks()
		if c.leaf < 0 || c.leaf >= len(chunks) {
			return ferry.Errorf(ferry.EINVALID, "%s column '%s': corrupt Parquet file: row group %d has no such column", file, c.name, g)
		}
		if err := c.readChunk(ctx, file, chunks[c.leaf], want); err != nil {
			return err
		}
		done += want
		c.dict = nil // dictionaries belong to one column chunk
	}
	return nil
}

// readChunk appends want rows from one column chunk.
func (c *pqColumn) readChunk(ctx context.Context, file string, chunk parquet.ColumnChunk, want int64) error {
	pages := chunk.Pages()
	defer pages.Close()
	var got int64
	for got < want {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := pages.ReadPage()
		if err == io.EOF {
			break
		} else if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return ferry.Errorf(ferry.EINVALID, "%s column '%s': corrupt Parquet data: %s", file, c.name, cleanParquetError(err))
		}
		n := min(p.NumRows(), want-got)
		if n < 0 {
			n = 0
		}
		err = c.page(p, int(n))
		parquet.Release(p)
		if err != nil {
			return ferry.Errorf(ferry.EINVALID, "%s column '%s': corrupt Parquet data: %v", file, c.name, err)
		}
		got += n
	}
	if got < want {
		return ferry.Errorf(ferry.EINVALID, "%s column '%s': corrupt Parquet data: a column chunk has %d of its %d rows", file, c.name, got, want)
	}
	return nil
}

// errShortPage reports a page with fewer values or levels than rows.
var errShortPage = errors.New("a page has fewer values than rows")

// page appends the first n rows of p.
func (c *pqColumn) page(p parquet.Page, n int) error {
	if c.fallback {
		return c.pageGeneric(p, n)
	}
	defs := p.DefinitionLevels()
	if c.maxDef == 0 {
		defs = nil
	} else if len(defs) < n {
		return errShortPage
	}
	data := p.Data()
	dict := p.Dictionary()
	var idx []int32
	if dict != nil {
		idx = data.Int32()
		if dict != c.dict {
			c.dict = dict
			c.dictNum, c.dictTim, c.dictCode = nil, nil, nil
			dd := dict.Page().Data()
			switch c.kind {
			case KindNumeric:
				c.dictNum = c.numbers(dd, c.dictNum[:0])
			case KindTimestamp:
				var err error
				if c.dictTim, err = c.times(dd, c.dictTim[:0]); err != nil {
					return err
				}
			case KindCategorical:
				c.dictCode = make([]int32, dict.Len())
				for i := range c.dictCode {
					c.dictCode[i] = -2
				}
			}
		}
	}
	var err error
	switch c.kind {
	case KindNumeric:
		vals := c.valsNum[:0]
		if dict != nil {
			vals, err = gather(vals, c.dictNum, idx)
		} else {
			vals = c.numbers(data, vals)
		}
		c.valsNum = vals
		if err == nil {
			c.num, err = place(c.num, vals, defs, c.maxDef, n, math.NaN())
		}
	case KindTimestamp:
		vals := c.valsTim[:0]
		if dict != nil {
			vals, err = gather(vals, c.dictTim, idx)
		} else {
			vals, err = c.times(data, vals)
		}
		c.valsTim = vals
		if err == nil {
			c.tim, err = place(c.tim, vals, defs, c.maxDef, n, MissingTime)
		}
	case KindCategorical:
		vals := c.valsCode[:0]
		if dict != nil {
			dd := dict.Page().Data()
			bytes, offsets := dd.ByteArray()
			for _, i := range idx {
				if i < 0 || int(i) >= len(c.dictCode) || int(i)+1 >= len(offsets) {
					return fmt.Errorf("dictionary index %d out of range", i)
				}
				code := c.dictCode[i]
				if code == -2 {
					if code, err = c.intern(bytes[offsets[i]:offsets[i+1]]); err != nil {
						return err
					}
					c.dictCode[i] = code
				}
				vals = append(vals, code)
			}
		} else {
			bytes, offsets := data.ByteArray()
			for i := 0; i+1 < len(offsets); i++ {
				code, err := c.intern(bytes[offsets[i]:offsets[i+1]])
				if err != nil {
					return err
				}
				vals = append(vals, code)
			}
		}
		c.valsCode = vals
		c.codes, err = place(c.codes, vals, defs, c.maxDef, n, -1)
	}
	return err
}

// numbers appends the values of a numeric page as float64.
func (c *pqColumn) numbers(data encoding.Values, out []float64) []float64 {
	switch c.phys {
	case parquet.Int32:
		for _, v := range data.Int32() {
			f := float64(v)
			if c.unsigned {
				f = float64(uint32(v))
			}
			out = append(out, f/c.scale)
		}
	case parquet.Int64:
		for _, v := range data.Int64() {
			f := float64(v)
			if c.unsigned {
				f = float64(uint64(v))
			}
			out = append(out, f/c.scale)
		}
	case parquet.Float:
		for _, v := range data.Float() {
			out = append(out, float64(v))
		}
	case parquet.Double:
		out = append(out, data.Double()...)
	}
	return out
}

// errTimeRange reports a timestamp that does not fit Unix nanoseconds.
var errTimeRange = errors.New("a timestamp is out of the range 1678-2262")

// times appends the values of a timestamp page as Unix nanoseconds.
func (c *pqColumn) times(data encoding.Values, out []int64) ([]int64, error) {
	switch c.phys {
	case parquet.Int64:
		lo, hi := math.MinInt64/c.unit, math.MaxInt64/c.unit
		for _, v := range data.Int64() {
			if v <= lo || v > hi {
				return out, errTimeRange
			}
			out = append(out, v*c.unit)
		}
	case parquet.Int32:
		lo, hi := math.MinInt64/c.unit, math.MaxInt64/c.unit
		for _, v := range data.Int32() {
			if int64(v) <= lo || int64(v) > hi {
				return out, errTimeRange
			}
			out = append(out, int64(v)*c.unit)
		}
	case parquet.Int96:
		for _, v := range data.Int96() {
			ns, ok := int96Time(v)
			if !ok {
				return out, errTimeRange
			}
			out = append(out, ns)
		}
	}
	return out, nil
}

// int96Time converts an INT96 timestamp (nanoseconds of the day, then the
// Julian day) to Unix nanoseconds.
func int96Time(v deprecated.Int96) (int64, bool) {
	const unixJulianDay = 2440588
	nanos := int64(uint64(v[1])<<32 | uint64(v[0]))
	days := int64(v[2]) - unixJulianDay
	if days < -106000 || days > 106000 || nanos < 0 || nanos >= 86400e9 {
		return 0, false
	}
	return days*86400e9 + nanos, true
}

// intern returns the code of the category b, adding it if new.
func (c *pqColumn) intern(b []byte) (int32, error) {
	if code, ok := c.index[string(b)]; ok {
		return code, nil
	}
	if !utf8.Valid(b) {
		return 0, fmt.Errorf("value %s is not valid UTF-8", quote(string(b)))
	}
	code := int32(len(c.levels))
	s := string(b)
	c.index[s] = code
	c.levels = append(c.levels, s)
	return code, nil
}

// pageGeneric appends the first n rows of p through the value reader: slower,
// for the rare types without bulk access.
func (c *pqColumn) pageGeneric(p parquet.Page, n int) error {
	if c.generic == nil {
		c.generic = make([]parquet.Value, 1024)
	}
	vr := p.Values()
	got := 0
	for got < n {
		k, err := vr.ReadValues(c.generic[:min(len(c.generic), n-got)])
		for _, v := range c.generic[:k] {
			switch {
			case c.kind == KindNumeric && v.IsNull():
				c.num = append(c.num, math.NaN())
			case c.kind == KindNumeric:
				f := 0.0
				if v.Boolean() {
					f = 1
				}
				c.num = append(c.num, f)
			case v.IsNull():
				c.codes = append(c.codes, -1)
			default:
				code, err := c.intern([]byte(formatUUID(v.ByteArray())))
				if err != nil {
					return err
				}
				c.codes = append(c.codes, code)
			}
		}
		got += k
		if err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		if k == 0 {
			break
		}
	}
	if got < n {
		return errShortPage
	}
	return nil
}

// formatUUID formats 16 bytes as a UUID.
func formatUUID(b []byte) string {
	if len(b) != 16 {
		return hex.EncodeToString(b)
	}
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// column returns the finished frame column.
func (c *pqColumn) column() *Column {
	col := &Column{Name: c.name, Kind: c.kind}
	switch c.kind {
	case KindNumeric:
		col.Num = c.num
	case KindTimestamp:
		col.Time = c.tim
	case KindCategorical:
		col.Codes, col.Levels = c.codes, c.levels
	}
	return col
}

// gather appends dict[i] for each index.
func gather[T any](out, dict []T, idx []int32) ([]T, error) {
	for _, i := range idx {
		if i < 0 || int(i) >= len(dict) {
			return out, fmt.Errorf("dictionary index %d out of range", i)
		}
		out = append(out, dict[i])
	}
	return out, nil
}

// place appends n rows: vals in order where the definition level says a
// value is present, missing elsewhere. defs is nil for a required column.
func place[T any](out, vals []T, defs []byte, maxDef byte, n int, missing T) ([]T, error) {
	if defs == nil {
		if len(vals) < n {
			return out, errShortPage
		}
		return append(out, vals[:n]...), nil
	}
	k := 0
	for _, d := range defs[:n] {
		if d == maxDef {
			if k >= len(vals) {
				return out, errShortPage
			}
			out = append(out, vals[k])
			k++
		} else {
			out = append(out, missing)
		}
	}
	return out, nil
}
