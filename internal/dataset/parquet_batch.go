package dataset

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"

	"github.com/ferry-ml/ferry"
)

// parquetBatches reads a Parquet file row group by row group, rows at a
// time, keeping values as the file types them. Columns are classified as
// ReadParquet classifies them (newPQColumn), and the file passes the same
// checks before parquet-go reads it (each row group's pages as it is reached).
type parquetBatches struct {
	f       *os.File
	name    string
	columns []BatchColumn
	pq      []*pqColumn
	lo, hi  []int64 // per column: stored timestamps in range
	slot    []int
	total   int
	pf      *parquet.File
	size    int64
	groups  []parquet.RowGroup
	group   int          // of the next row group
	rows    parquet.Rows // of the current group
	buf     []parquet.Row
	row     int // rows read
}

func newParquetBatches(f *os.File, name string) (*parquetBatches, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("dataset: stat %s: %w", name, err)
	}
	pf, err := openParquet(f, st.Size(), name, 4096) // small buffers: memory stays with the batch
	if err != nil {
		return nil, err
	}
	s := &parquetBatches{f: f, name: name, pf: pf, size: st.Size()}
	err = safely(name, "", func() error {
		for _, path := range pf.Schema().Columns() {
			leaf, ok := pf.Schema().Lookup(path...)
			if !ok {
				return fmt.Errorf("no leaf column %v", path)
			}
			s.pq = append(s.pq, newPQColumn(strings.Join(path, "."), leaf))
		}
		return nil
	})
	if err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "%s: not a readable Parquet file: %s", name, cleanParquetError(err))
	}
	s.lo, s.hi = make([]int64, len(s.pq)), make([]int64, len(s.pq))
	for i, c := range s.pq {
		if c.unsupported != "" {
			return nil, ferry.Errorf(ferry.EINVALID, "%s: column '%s' is %s, which Ferry does not read", name, c.name, c.unsupported)
		}
		if c.leaf != i {
			return nil, ferry.Errorf(ferry.EINVALID, "%s: corrupt Parquet file: column '%s' is leaf %d of %d", name, c.name, c.leaf, i)
		}
		var kind ValueKind
		switch {
		case c.phys == parquet.Boolean:
			kind = ValueBool
		case c.kind == KindTimestamp:
			kind = ValueTime
			if c.unit > 0 {
				s.lo[i], s.hi[i] = math.MinInt64/c.unit, math.MaxInt64/c.unit
			}
		case c.kind == KindCategorical:
			kind = ValueString
		case c.phys == parquet.Float || c.phys == parquet.Double || c.scale != 1 || (c.unsigned && c.phys == parquet.Int64):
			kind = ValueFloat
		default:
			kind = ValueInt
		}
		s.columns = append(s.columns, BatchColumn{Name: c.name, Kind: kind})
	}
	s.groups = pf.RowGroups()
	var total int64
	for _, rg := range s.groups {
		if rg.NumRows() < 0 || total+rg.NumRows() < total {
			return nil, ferry.Errorf(ferry.EINVALID, "%s: corrupt Parquet file: a row group has %d rows", name, rg.NumRows())
		}
		total += rg.NumRows()
	}
	s.total = int(min(total, math.MaxInt))
	return s, nil
}

func (s *parquetBatches) choose(slot []int) { s.slot = slot }

func (s *parquetBatches) close() error {
	if s.rows != nil {
		s.rows.Close()
	}
	return s.f.Close()
}

func (s *parquetBatches) read(ctx context.Context, b *Batch, n int) (got int, err error) {
	err = safely(s.name, "", func() error {
		var err error
		got, err = s.readRows(ctx, b, n)
		return err
	})
	return got, err
}

func (s *parquetBatches) readRows(ctx context.Context, b *Batch, n int) (int, error) {
	if cap(s.buf) < min(n, 4096) {
		s.buf = make([]parquet.Row, min(n, 4096))
	}
	got := 0
	for got < n {
		if s.rows == nil {
			if len(s.groups) == 0 {
				return got, io.EOF
			}
			if err := ctx.Err(); err != nil {
				return got, err
			}
			// Each row group's pages are checked when it is reached.
			if err := checkGroupPages(s.f, s.size, s.name, s.pf, s.group, s.pq); err != nil {
				return got, err
			}
			s.rows = s.groups[0].Rows()
			s.groups, s.group = s.groups[1:], s.group+1
		}
		buf := s.buf[:min(cap(s.buf), n-got)]
		k, rerr := s.rows.ReadRows(buf)
		for _, row := range buf[:k] {
			s.row++
			if err := s.append(b, row); err != nil {
				return got, err
			}
			got++
		}
		if rerr == io.EOF {
			s.rows.Close()
			s.rows = nil
			continue
		}
		if rerr != nil {
			return got, ferry.Errorf(ferry.EINVALID, "%s row %d: corrupt Parquet data: %s", s.name, s.row+1, cleanParquetError(rerr))
		}
		if k == 0 {
			return got, ferry.Errorf(ferry.EINVALID, "%s row %d: corrupt Parquet data: no rows where the row group has more", s.name, s.row+1)
		}
	}
	return got, nil
}

// append appends one row, the values of its columns in order.
func (s *parquetBatches) append(b *Batch, row parquet.Row) error {
	if len(row) != len(s.columns) {
		return ferry.Errorf(ferry.EINVALID, "%s row %d: corrupt Parquet data: %d values for %d columns", s.name, s.row, len(row), len(s.columns))
	}
	for j, v := range row {
		i := v.Column()
		if i != j {
			return ferry.Errorf(ferry.EINVALID, "%s row %d: corrupt Parquet data: a value of column %d in place of %d", s.name, s.row, i, j)
		}
		if s.slot[i] < 0 {
			continue
		}
		c := &b.Columns[s.slot[i]]
		if v.IsNull() {
			c.appendNull()
			continue
		}
		pc := s.pq[i]
		switch c.Kind {
		case ValueBool:
			c.Bool = append(c.Bool, v.Boolean())
		case ValueInt:
			x := v.Int64()
			if pc.phys == parquet.Int32 {
				x = int64(v.Int32())
				if pc.unsigned {
					x = int64(uint32(v.Int32()))
				}
			}
			c.Int = append(c.Int, x)
		case ValueFloat:
			var x float64
			switch pc.phys {
			case parquet.Float:
				x = float64(v.Float())
			case parquet.Double:
				x = v.Double()
			case parquet.Int32:
				x = float64(v.Int32())
			default:
				x = float64(v.Int64())
				if pc.unsigned {
					x = float64(uint64(v.Int64()))
				}
			}
			c.Float = append(c.Float, x/pc.scale)
		case ValueTime:
			var ns int64
			switch pc.phys {
			case parquet.Int96:
				t, ok := int96Time(v.Int96())
				if !ok {
					return s.valueError(i, errTimeRange.Error())
				}
				ns = t
			default:
				x := v.Int64()
				if pc.phys == parquet.Int32 {
					x = int64(v.Int32())
				}
				if x <= s.lo[i] || x > s.hi[i] {
					return s.valueError(i, errTimeRange.Error())
				}
				ns = x * pc.unit
			}
			c.Int = append(c.Int, ns)
		default:
			str := string(v.ByteArray())
			if pc.uuid {
				str = formatUUID(v.ByteArray())
			} else if !utf8.ValidString(str) {
				return s.valueError(i, "value "+quote(str)+" is not valid UTF-8")
			}
			c.Str = append(c.Str, str)
		}
		c.Null = append(c.Null, false)
	}
	return nil
}

func (s *parquetBatches) valueError(col int, msg string) error {
	return ferry.Errorf(ferry.EINVALID, "%s row %d column '%s': %s", s.name, s.row, s.columns[col].Name, msg)
}
