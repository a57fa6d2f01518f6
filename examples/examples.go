// Package examples bundles small real data sets so that `ferry demo` and the
// tests run on a fresh clone with nothing else.
//
//   - breast_cancer.csv: the UCI Wisconsin Diagnostic Breast Cancer data as
//     scikit-learn ships it (BSD-3-Clause): 569 rows of 30 numeric features and
//     a binary target (0 = malignant, 1 = benign) in the last column. Its
//     first line holds counts and class names, not column names; BreastCancerCSV
//     gives it a header.
//   - flights-sample.csv.gz: every 25th row (120,000) of the US domestic
//     flights of January to June 2001 (US Bureau of Transportation Statistics,
//     as packaged by vega-datasets, BSD-3-Clause): date, delay (minutes),
//     distance (miles), origin, destination.
package examples

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

//go:embed breast_cancer.csv
var breastCancer []byte

//go:embed flights-sample.csv.gz
var flightsSample []byte

// FlightsHoldoutFrom is the first day of the flights held out from
// training: flights before it (January to April 2001) train, flights from
// it on (May and June) judge the model on data it never saw.
const FlightsHoldoutFrom = "2001-05-01"

// Files writes the bundled data sets into dir as breast_cancer.csv (with a
// header line f00..f29,target) and flights-sample.csv.gz, and the flights
// split at FlightsHoldoutFrom as flights-jan-apr.csv and flights-may-jun.csv;
// it returns their paths by name ("breast_cancer", "flights",
// "flights_train", "flights_holdout"). Existing files are replaced.
func Files(dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := map[string]string{
		"breast_cancer": filepath.Join(dir, "breast_cancer.csv"),
		"flights":       filepath.Join(dir, "flights-sample.csv.gz"),
	}
	if err := os.WriteFile(out["breast_cancer"], BreastCancerCSV(), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(out["flights"], flightsSample, 0o644); err != nil {
		return nil, err
	}
	train, holdout, err := splitFlights()
	if err != nil {
		return nil, err
	}
	out["flights_train"] = filepath.Join(dir, "flights-jan-apr.csv")
	out["flights_holdout"] = filepath.Join(dir, "flights-may-jun.csv")
	if err := os.WriteFile(out["flights_train"], train, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(out["flights_holdout"], holdout, 0o644); err != nil {
		return nil, err
	}
	return out, nil
}

// splitFlights splits the flights sample by its date column (the first,
// "YYYY-MM-DD hh:mm:ss") at FlightsHoldoutFrom; both parts keep the header.
func splitFlights() (before, after []byte, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(flightsSample))
	if err != nil {
		return nil, nil, fmt.Errorf("examples: flights sample: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, nil, fmt.Errorf("examples: flights sample: %w", err)
	}
	header, body, _ := bytes.Cut(raw, []byte("\n"))
	header = append(header, '\n')
	before, after = slices.Clone(header), slices.Clone(header)
	for line := range bytes.Lines(body) {
		if string(line[:min(len(line), len(FlightsHoldoutFrom))]) < FlightsHoldoutFrom {
			before = append(before, line...)
		} else {
			after = append(after, line...)
		}
	}
	return before, after, nil
}

// BreastCancerCSV returns the breast cancer data with a header naming the
// features f00..f29 and the target "diagnosis" (0 = malignant, 1 = benign).
func BreastCancerCSV() []byte {
	_, body, _ := bytes.Cut(breastCancer, []byte("\n"))
	cols := make([]string, 0, 31)
	for i := range 30 {
		cols = append(cols, fmt.Sprintf("f%02d", i))
	}
	cols = append(cols, "diagnosis")
	return append([]byte(strings.Join(cols, ",")+"\n"), body...)
}
