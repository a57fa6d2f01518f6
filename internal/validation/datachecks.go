package validation

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
)

// Names of the data checks.
const (
	CheckSchema           = "schema"
	CheckMissingRate      = "missing_rate"
	CheckRange            = "range"
	CheckUnseenCategories = "unseen_categories"
)

// expectedColumn is an input column the model expects.
type expectedColumn struct {
	name     string
	kind     dataset.Kind // "" when unknown (a signature type Ferry does not map)
	sigType  string       // the signature's type, "" without a signature
	required bool
	profile  *dataset.ColumnProfile // nil when the training profile lacks the column
}

// expectedColumns lists the model's input columns: the signature's named
// column inputs or, without a signature, the profile's columns but target.
// The string is why there are none, when there are none.
func expectedColumns(sig *model.Signature, profile *dataset.Profile, target string) ([]expectedColumn, string) {
	var out []expectedColumn
	lookup := func(name string) *dataset.ColumnProfile {
		if profile == nil {
			return nil
		}
		cp, _ := profile.Col(name)
		return cp
	}
	switch {
	case sig != nil && sig.IsTensorBased():
		return nil, "the model's signature takes tensors, not named columns"
	case sig != nil && len(sig.Inputs) > 0:
		if sig.Inputs[0].Name == "" {
			return nil, "the model's signature does not name its columns"
		}
		for _, in := range sig.Inputs {
			e := expectedColumn{name: in.Name, kind: kindOfType(in.Type), sigType: in.Type, required: in.Required, profile: lookup(in.Name)}
			if e.profile != nil {
				e.kind = e.profile.Kind
			}
			out = append(out, e)
		}
	case profile != nil:
		for i := range profile.Columns {
			cp := &profile.Columns[i]
			if cp.Name != target {
				out = append(out, expectedColumn{name: cp.Name, kind: cp.Kind, required: true, profile: cp})
			}
		}
	default:
		return nil, "the package has neither a signature nor a training profile"
	}
	return out, ""
}

// kindOfType maps an MLflow column type to the kind of column Ferry reads
// for it; "" for types without one.
func kindOfType(t string) dataset.Kind {
	switch t {
	case model.TypeDouble, model.TypeFloat, model.TypeLong, model.TypeInteger, model.TypeBoolean:
		return dataset.KindNumeric
	case model.TypeString:
		return dataset.KindCategorical
	case model.TypeDatetime:
		return dataset.KindTimestamp
	}
	return ""
}

// describe names what is expected of a column: "numeric (double in the signature)".
func (e expectedColumn) describe() string {
	s := string(e.kind)
	if s == "" {
		s = "of type " + e.sigType
	} else if e.sigType != "" {
		s += " (" + e.sigType + " in the signature)"
	}
	return s
}

// CheckData checks the evaluation frame f against the model: its input
// columns (the signature's named inputs, or without one the training
// profile's columns but target) and its training profile (nil when the
// package has none).
//
//   - schema: every required input is present with the kind the model
//     expects; a missing column names the data's columns of that kind the
//     model does not know (a renamed column).
//   - missing_rate (p.MaxMissingRateIncrease): the rise of each column's
//     missing-value rate over the training rate.
//   - range (p.MaxOutOfRangeRate): the fraction of each numeric column's
//     present values outside the trained [min, max] (infinities included).
//   - unseen_categories (p not nil): categories training never saw. The
//     profile lists a column's dataset.TopK most frequent categories; when
//     training had more (the profile's Other count is not 0), unseen
//     categories cannot be told from rare ones and the column is skipped
//     with a message. Unseen categories fail the check only with
//     p.FailOnUnseenCategories.
//
// A check that finds a problem reports it per column (CheckResult.Column);
// one that finds none reports a single passed result. Profile checks need a
// profile and are skipped without one. With p nil only the schema is
// checked. CheckData reads f without modifying it.
func CheckData(f *dataset.Frame, sig *model.Signature, profile *dataset.Profile, target string, p *DataPolicy) []CheckResult {
	cols, why := expectedColumns(sig, profile, target)
	if cols == nil {
		return []CheckResult{{Name: CheckSchema, Passed: true, Skipped: true, Message: why + ": the schema is not checked"}}
	}
	out, usable := checkSchema(f, cols, target)
	if p == nil {
		return out
	}
	if profile == nil {
		for _, name := range []string{CheckMissingRate, CheckRange, CheckUnseenCategories} {
			out = append(out, CheckResult{Name: name, Passed: true, Skipped: true, Message: "the package has no training profile to compare with"})
		}
		return out
	}
	if p.MaxMissingRateIncrease != nil {
		out = append(out, checkMissing(f, usable, profile.Rows, *p.MaxMissingRateIncrease)...)
	}
	if p.MaxOutOfRangeRate != nil {
		out = append(out, checkRange(f, usable, *p.MaxOutOfRangeRate)...)
	}
	out = append(out, checkUnseen(f, usable, p.FailOnUnseenCategories)...)
	return out
}

// checkSchema checks presence and kinds, and returns the expected columns
// that are present with the expected kind (the ones the other checks read).
func checkSchema(f *dataset.Frame, cols []expectedColumn, target string) ([]CheckResult, []expectedColumn) {
	var out []CheckResult
	var usable []expectedColumn
	known := map[string]bool{target: true}
	for _, e := range cols {
		known[e.name] = true
	}
	for _, e := range cols {
		c, err := f.Col(e.name)
		if err != nil {
			if !e.required {
				continue
			}
			msg := fmt.Sprintf("column '%s' is missing from the data; the model expects it %s", e.name, e.describe())
			var cands []string
			for _, other := range f.Columns {
				if !known[other.Name] && (e.kind == "" || other.Kind == e.kind) {
					cands = append(cands, "'"+other.Name+"'")
				}
			}
			if len(cands) > 0 {
				if len(cands) > 5 {
					cands = append(cands[:5], "…")
				}
				msg += fmt.Sprintf(". The data has %s of that kind, which the model does not know: renamed?", strings.Join(cands, ", "))
			}
			out = append(out, CheckResult{Name: CheckSchema, Column: e.name, Message: msg})
			continue
		}
		if e.kind != "" && c.Kind != e.kind {
			out = append(out, CheckResult{Name: CheckSchema, Column: e.name,
				Message: fmt.Sprintf("column '%s' is %s in the data; the model expects it %s", e.name, c.Kind, e.describe())})
			continue
		}
		usable = append(usable, e)
	}
	if len(out) == 0 {
		out = append(out, CheckResult{Name: CheckSchema, Passed: true,
			Message: fmt.Sprintf("all %d input columns are present with the expected types", len(cols))})
	}
	return out, usable
}

// pct formats a fraction as a percentage.
func pct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

// checkMissing compares missing-value rates with training.
func checkMissing(f *dataset.Frame, cols []expectedColumn, trainRows int64, limit float64) []CheckResult {
	var out []CheckResult
	worst, worstCol := math.Inf(-1), ""
	n := f.Len()
	for _, e := range cols {
		if e.profile == nil || trainRows == 0 || n == 0 {
			continue
		}
		c, _ := f.Col(e.name)
		missing := 0
		for i := range n {
			if c.IsMissing(i) {
				missing++
			}
		}
		rate := float64(missing) / float64(n)
		trained := float64(e.profile.Missing) / float64(trainRows)
		inc := rate - trained
		if inc > worst {
			worst, worstCol = inc, e.name
		}
		if inc > limit {
			out = append(out, CheckResult{Name: CheckMissingRate, Column: e.name,
				Message: fmt.Sprintf("column '%s' is missing in %s of rows (%d of %d), %s in training: up %.1f points, more than the %.1f allowed",
					e.name, pct(rate), missing, n, pct(trained), 100*inc, 100*limit)})
		}
	}
	if len(out) == 0 {
		msg := "no input column to compare with the training profile"
		if worstCol != "" {
			msg = fmt.Sprintf("no input column's missing rate rose by more than %.1f points (largest change: '%s', %+.1f points)", 100*limit, worstCol, 100*worst)
		}
		out = append(out, CheckResult{Name: CheckMissingRate, Passed: true, Message: msg})
	}
	return out
}

// checkRange measures values outside the trained range of numeric columns.
func checkRange(f *dataset.Frame, cols []expectedColumn, limit float64) []CheckResult {
	var out []CheckResult
	checked := 0
	for _, e := range cols {
		if e.kind != dataset.KindNumeric || e.profile == nil || e.profile.Numeric == nil || e.profile.Count-e.profile.Numeric.Infinite <= 0 {
			continue
		}
		np := e.profile.Numeric
		c, _ := f.Col(e.name)
		present, outside := 0, 0
		for _, x := range c.Num {
			if math.IsNaN(x) {
				continue
			}
			present++
			if x < np.Min || x > np.Max {
				outside++
			}
		}
		checked++
		if present == 0 {
			continue
		}
		rate := float64(outside) / float64(present)
		if rate > limit {
			out = append(out, CheckResult{Name: CheckRange, Column: e.name,
				Message: fmt.Sprintf("column '%s' has %s of its values (%d of %d) outside the trained range [%s, %s], more than the %s allowed",
					e.name, pct(rate), outside, present, num(np.Min), num(np.Max), pct(limit))})
		}
	}
	if len(out) == 0 {
		out = append(out, CheckResult{Name: CheckRange, Passed: true,
			Message: fmt.Sprintf("no numeric input column has more than %s of its values outside the trained range (%s checked)", pct(limit), plural(checked, "column"))})
	}
	return out
}

// checkUnseen finds categories training never saw.
func checkUnseen(f *dataset.Frame, cols []expectedColumn, fail bool) []CheckResult {
	var out []CheckResult
	checked, failed := 0, false
	for _, e := range cols {
		if e.kind != dataset.KindCategorical || e.profile == nil || e.profile.Categorical == nil {
			continue
		}
		cat := e.profile.Categorical
		if cat.Other > 0 {
			out = append(out, CheckResult{Name: CheckUnseenCategories, Column: e.name, Passed: true, Skipped: true,
				Message: fmt.Sprintf("column '%s': the training profile lists only the %d most frequent of its %d categories, so unseen categories cannot be told from rare ones; not checked",
					e.name, len(cat.Top), cat.Distinct)})
			continue
		}
		checked++
		known := make(map[string]bool, len(cat.Top))
		for _, t := range cat.Top {
			known[t.Value] = true
		}
		c, _ := f.Col(e.name)
		counts := make([]int, len(c.Levels))
		for _, code := range c.Codes {
			if code >= 0 {
				counts[code]++
			}
		}
		type unseen struct {
			value string
			rows  int
		}
		var fresh []unseen
		rows := 0
		for l, v := range c.Levels {
			if counts[l] > 0 && !known[v] {
				fresh = append(fresh, unseen{v, counts[l]})
				rows += counts[l]
			}
		}
		if len(fresh) == 0 {
			continue
		}
		slices.SortFunc(fresh, func(a, b unseen) int {
			if a.rows != b.rows {
				return b.rows - a.rows
			}
			return strings.Compare(a.value, b.value)
		})
		var shown []string
		for i, u := range fresh {
			if i == 5 {
				shown = append(shown, "…")
				break
			}
			shown = append(shown, fmt.Sprintf("%q (%d rows)", u.value, u.rows))
		}
		msg := fmt.Sprintf("column '%s' has %d categories not seen in training, in %d rows (%s): %s",
			e.name, len(fresh), rows, pct(float64(rows)/float64(max(f.Len(), 1))), strings.Join(shown, ", "))
		if !fail {
			msg += " (reported only: fail_on_unseen_categories is off)"
		} else {
			failed = true
		}
		out = append(out, CheckResult{Name: CheckUnseenCategories, Column: e.name, Passed: !fail, Message: msg})
	}
	if !failed && checked > 0 && !slices.ContainsFunc(out, func(r CheckResult) bool { return !r.Skipped }) {
		out = append(out, CheckResult{Name: CheckUnseenCategories, Passed: true,
			Message: fmt.Sprintf("the categorical input columns hold only categories seen in training (%s checked)", plural(checked, "column"))})
	}
	return out
}
