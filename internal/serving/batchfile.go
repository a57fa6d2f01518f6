package serving

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// DefaultBatchSize is the rows per Predict of ScoreFile when
// ScoreOptions.BatchSize is zero.
const DefaultBatchSize = 10000

// readChunk is the most rows ScoreFile reads at a time without kept columns.
const readChunk = 4096

// ScoreOptions tune ScoreFile.
type ScoreOptions struct {
	// BatchSize is the number of rows read and scored at a time
	// (DefaultBatchSize when zero); memory grows with it.
	BatchSize int
	// Limit, when positive, scores at most that many rows.
	Limit int
	// KeepColumns writes every input column, as read, before the
	// predictions.
	KeepColumns bool
	// Overwrite replaces an existing output file; without it an existing
	// output is ECONFLICT, checked before any scoring and again, atomically,
	// when the finished file is put in place.
	Overwrite bool
	// Progress, when set, is called after each batch with the rows scored
	// so far and the rows there will be (0 when unknown).
	Progress func(done, total int)
}

// ScoreResult is what ScoreFile did.
type ScoreResult struct {
	Rows int // rows scored
}

// ScoreFile scores every row of the table file in (CSV, JSON Lines — each
// optionally gzipped — or Parquet, read by dataset.OpenBatches) with m,
// whose signature is sig (nil when it has none), and writes the predictions
// to out, in the format its extension names (.csv, .parquet or .pq, .jsonl,
// .ndjson or .json): one column per model output (an output of [rows, K]
// gives K columns, named by the signature's outputs when there are K), after
// the input columns with opts.KeepColumns. It reads, scores and writes
// opts.BatchSize rows at a time, so memory is bounded whatever the file's
// size. Columns the model does not take are ignored.
//
// out is written to a temporary file beside it and renamed into place once
// complete: on any error nothing is left at out (an existing file stays as
// it was). A new out gets the mode 0666 less the process's umask, as a file
// created by the shell would; a replaced one keeps its mode. Errors: an
// existing out without opts.Overwrite is ECONFLICT; a model that takes tensors, an unknown output type, a
// missing or invalid column or value (naming in, the column and the row) and
// an unreadable input are EINVALID; a missing input is ENOTFOUND; errors of
// the model, of writing and ctx's error are returned wrapped.
func ScoreFile(ctx context.Context, m runtime.Model, sig *model.Signature, in, out string, opts ScoreOptions) (ScoreResult, error) {
	schema := NewSchema(m.Metadata(), sig)
	if !schema.Columns {
		return ScoreResult{}, ferry.Errorf(ferry.EINVALID, "ferry predict scores tables, and this model takes tensors; serve it with 'ferry serve' and send V2 requests.")
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.BatchSize < 0 || opts.Limit < 0 {
		return ScoreResult{}, ferry.Errorf(ferry.EINVALID, "the batch size must be positive and the limit not negative")
	}
	outFormat, err := outputFormat(out)
	if err != nil {
		return ScoreResult{}, err
	}
	existing, err := os.Stat(out)
	switch {
	case err == nil && !opts.Overwrite:
		return ScoreResult{}, outputExists(out)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return ScoreResult{}, fmt.Errorf("write %s: %w", out, err)
	}
	src, err := dataset.OpenBatches(ctx, in, dataset.ReadOptions{MaxRows: opts.Limit})
	if ferry.ErrorCode(err) == ferry.ENOTFOUND {
		return ScoreResult{}, ferry.Errorf(ferry.ENOTFOUND, "No input file %s.", in)
	} else if err != nil {
		return ScoreResult{}, err
	}
	defer src.Close()
	if !opts.KeepColumns {
		src.Select(func(name string) bool { _, ok := schema.Lookup(name); return ok })
	}

	// colOf maps a file column to its index among the model's, or -1.
	colOf := make([]int, len(src.Columns()))
	var modelCols []string
	for i, c := range src.Columns() {
		colOf[i] = -1
		if _, ok := schema.Lookup(c.Name); ok {
			colOf[i] = len(modelCols)
			modelCols = append(modelCols, c.Name)
		}
	}
	cols, err := schema.NewColumns(modelCols)
	if err != nil {
		return ScoreResult{}, fileError(in, err)
	}
	var kept []dataset.BatchColumn
	if opts.KeepColumns {
		kept = src.Columns()
	}

	tmp, err := createBeside(out)
	if err != nil {
		return ScoreResult{}, fmt.Errorf("write %s: %w", out, err)
	}
	if existing != nil {
		if err := tmp.Chmod(existing.Mode().Perm()); err != nil {
			return ScoreResult{}, fmt.Errorf("write %s: %w", out, err)
		}
	}
	defer func() {
		tmp.Close()
		_ = os.Remove(tmp.Name()) // gone after the rename
	}()
	var sink outputSink
	done, total := 0, max(src.Total(), 0)
	// Without kept columns, a batch is read in chunks that go straight into
	// the model's columns, so only those hold a whole batch.
	chunk := opts.BatchSize
	if !opts.KeepColumns {
		chunk = min(chunk, readChunk)
	}
	batch := src.NewBatch()
	for {
		cols.Reset()
		cols.RowOffset = done
		read := 0
		for read < opts.BatchSize {
			err := src.Next(ctx, batch, min(chunk, opts.BatchSize-read))
			if err == io.EOF {
				break
			} else if err != nil {
				return ScoreResult{}, err
			}
			if err := appendBatch(cols, batch, colOf); err != nil {
				return ScoreResult{}, fileError(in, err)
			}
			read += batch.Rows
			if opts.KeepColumns {
				break // batch holds the kept columns of the rows read
			}
		}
		if read == 0 {
			break
		}
		inputs, rows, err := cols.Tensors()
		if err != nil {
			return ScoreResult{}, fileError(in, err)
		}
		outs, err := m.Predict(ctx, inputs)
		if err != nil {
			return ScoreResult{}, fileError(in, err)
		}
		if opts.KeepColumns {
			kept = batch.Columns
		}
		ocols, err := outputColumns(outs, rows, schema, kept)
		if err != nil {
			return ScoreResult{}, err
		}
		if sink == nil {
			if sink, err = newSink(outFormat, tmp, kept, ocols); err != nil {
				return ScoreResult{}, fmt.Errorf("write %s: %w", out, err)
			}
		}
		if err := sink.write(kept, ocols, rows); err != nil {
			return ScoreResult{}, fmt.Errorf("write %s: %w", out, err)
		}
		done += rows
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	if sink == nil { // no rows: the columns the model would give
		var ocols []outColumn
		for _, o := range schema.Outputs {
			ocols = append(ocols, outColumn{name: o.Name, kind: kindOfDatatype(o.Datatype)})
		}
		if sink, err = newSink(outFormat, tmp, kept, ocols); err != nil {
			return ScoreResult{}, fmt.Errorf("write %s: %w", out, err)
		}
	}
	if err := sink.close(); err != nil {
		return ScoreResult{}, fmt.Errorf("write %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return ScoreResult{}, fmt.Errorf("write %s: %w", out, err)
	}
	if err := putInPlace(tmp.Name(), out, opts.Overwrite); err != nil {
		return ScoreResult{}, err
	}
	return ScoreResult{Rows: done}, nil
}

// createBeside creates a new, empty temporary file in out's directory with
// mode 0666 less the umask (os.CreateTemp would give 0600).
func createBeside(out string) (*os.File, error) {
	for {
		name := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp-"+rand.Text()[:12])
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

// putInPlace moves the finished file tmp to out: a rename when overwrite
// allows replacing out, else a hard link, which fails rather than replace a
// file that appeared meanwhile (where links are not supported, a rename
// after one more check).
func putInPlace(tmp, out string, overwrite bool) error {
	if !overwrite {
		err := os.Link(tmp, out)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, fs.ErrExist):
			return outputExists(out)
		}
		if _, serr := os.Lstat(out); serr == nil {
			return outputExists(out)
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

func outputExists(out string) error {
	return ferry.Errorf(ferry.ECONFLICT, "%s exists; pass --force to replace it", out)
}

// outputFormat is the table format the name of an output file says.
func outputFormat(path string) (dataset.Format, error) {
	ext := strings.ToLower(filepath.Ext(path))
	switch ext {
	case ".csv":
		return dataset.FormatCSV, nil
	case ".parquet", ".pq":
		return dataset.FormatParquet, nil
	case ".jsonl", ".ndjson", ".json":
		return dataset.FormatJSONL, nil
	}
	return "", ferry.Errorf(ferry.EINVALID, "%s: unknown file type %q; use .csv, .parquet or .jsonl", path, ext)
}

// fileError prefixes an error about the data with the file it is about,
// keeping its code.
func fileError(file string, err error) error {
	var fe *ferry.Error
	if errors.As(err, &fe) {
		return ferry.Errorf(fe.Code, "%s: %s", file, fe.Message)
	}
	return fmt.Errorf("%s: %w", file, err)
}

// appendBatch appends the rows of b to cols, column by column: file column
// i goes to model column colOf[i] (-1: not taken).
func appendBatch(cols *Columns, b *dataset.Batch, colOf []int) error {
	for i := range b.Columns {
		k := colOf[i]
		if k < 0 {
			continue
		}
		c := &b.Columns[i]
		bytesCol := cols.Spec(k).Datatype == runtime.BYTES
		for r := range b.Rows {
			var err error
			switch {
			case c.Null[r]:
				err = cols.AppendNull(k)
			case c.Kind == dataset.ValueText:
				err = cols.AppendText(k, c.Str[r])
			case c.Kind == dataset.ValueJSON:
				err = cols.AppendJSON(k, []byte(c.Str[r]))
			case c.Kind == dataset.ValueString && bytesCol:
				err = cols.AppendString(k, c.Str[r])
			case c.Kind == dataset.ValueString:
				err = cols.AppendText(k, c.Str[r])
			case c.Kind == dataset.ValueFloat:
				err = cols.AppendFloat(k, c.Float[r])
			case c.Kind == dataset.ValueInt:
				err = cols.AppendInt(k, c.Int[r])
			case c.Kind == dataset.ValueBool:
				err = cols.AppendBool(k, c.Bool[r])
			case c.Kind == dataset.ValueTime:
				err = cols.AppendTime(k, time.Unix(0, c.Int[r]).UTC(), "")
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
