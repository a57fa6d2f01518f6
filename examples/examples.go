// Package examples bundles small real data sets so that `ferry demo` and the
// tests run on a fresh clone with nothing else.
//
// breast_cancer.csv is the UCI Wisconsin Diagnostic Breast Cancer data as
// scikit-learn ships it (BSD-3-Clause): 569 rows of 30 numeric features and a
// binary target (0 = malignant, 1 = benign) in the last column. Its first line
// holds counts and class names, not column names.
package examples

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"strconv"
)

//go:embed breast_cancer.csv
var breastCancerCSV []byte

// Table is a numeric data set with a binary target.
type Table struct {
	Name    string
	Digest  string // sha256 of the file's bytes, hex
	Columns []string
	X       [][]float64
	Y       []float64
	Classes []string // class names for target values 0, 1, ...
}

// BreastCancer parses the bundled breast cancer data.
func BreastCancer() (Table, error) {
	r := csv.NewReader(bytes.NewReader(breastCancerCSV))
	r.FieldsPerRecord = -1 // the first line is shorter
	recs, err := r.ReadAll()
	if err != nil {
		return Table{}, fmt.Errorf("examples: breast_cancer.csv: %w", err)
	}
	sum := sha256.Sum256(breastCancerCSV)
	t := Table{Name: "breast_cancer", Digest: hex.EncodeToString(sum[:]), Classes: recs[0][2:]}
	for i := range len(recs[1]) - 1 {
		t.Columns = append(t.Columns, fmt.Sprintf("f%02d", i))
	}
	for n, rec := range recs[1:] {
		row := make([]float64, len(rec))
		for i, s := range rec {
			if row[i], err = strconv.ParseFloat(s, 64); err != nil {
				return Table{}, fmt.Errorf("examples: breast_cancer.csv line %d column %d: %w", n+2, i+1, err)
			}
		}
		t.X = append(t.X, row[:len(row)-1])
		t.Y = append(t.Y, row[len(row)-1])
	}
	return t, nil
}
