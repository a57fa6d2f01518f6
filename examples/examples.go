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
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

//go:embed breast_cancer.csv
var breastCancer []byte

//go:embed flights-sample.csv.gz
var flightsSample []byte

// Files writes the bundled data sets into dir as breast_cancer.csv (with a
// header line f00..f29,target) and flights-sample.csv.gz, and returns their
// paths by name ("breast_cancer", "flights").
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
	return out, nil
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
