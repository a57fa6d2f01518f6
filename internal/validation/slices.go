package validation

import (
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/validation/metrics"
)

// EvaluateSlices evaluates the rows of every value of every slice column, as
// Evaluate evaluates all rows. slices maps a column name to the value of
// each row (len(y) values); rows whose value is "" belong to no slice of that
// column. The result is ordered by column name, then by value, and holds only
// slices with at least one row. Arguments are checked as Evaluate checks
// them, and a slice column of the wrong length is EINVALID. Slices are
// evaluated in parallel (GOMAXPROCS goroutines); EvaluateSlices is safe for
// concurrent use.
func EvaluateSlices(task string, classes []string, y, pred []float64, slices map[string][]string) ([]SliceMetrics, error) {
	if err := metrics.Check(task, classes, y, pred); err != nil {
		return nil, err
	}
	cols := make([]string, 0, len(slices))
	for c, vals := range slices {
		if len(vals) != len(y) {
			return nil, ferry.Errorf(ferry.EINVALID, "slice column '%s' has %d values for %d rows", c, len(vals), len(y))
		}
		cols = append(cols, c)
	}
	sort.Strings(cols)
	var groups []sliceGroup
	for _, c := range cols {
		groups = append(groups, groupRows(c, slices[c])...)
	}
	return evaluateSlices(task, classes, y, pred, nil, groups), nil
}

// sliceGroup is the rows of one slice.
type sliceGroup struct {
	column, value string
	rows          []int
}

// groupRows groups row indexes by value, values in sorted order, "" left out.
func groupRows(column string, values []string) []sliceGroup {
	index := map[string]int{}
	var groups []sliceGroup
	for i, v := range values {
		if v == "" {
			continue
		}
		g, ok := index[v]
		if !ok {
			g = len(groups)
			index[v] = g
			groups = append(groups, sliceGroup{column: column, value: v})
		}
		groups[g].rows = append(groups[g].rows, i)
	}
	sortGroups(groups)
	return groups
}

// groupColumn groups the rows of c by value as groupRows does, reading a
// categorical column's codes directly.
func groupColumn(c *dataset.Column) []sliceGroup {
	if c.Kind != dataset.KindCategorical {
		return groupRows(c.Name, sliceValues(c))
	}
	byCode := make([][]int, len(c.Levels))
	for i, code := range c.Codes {
		if code >= 0 {
			byCode[code] = append(byCode[code], i)
		}
	}
	var groups []sliceGroup
	for code, rows := range byCode {
		if len(rows) > 0 {
			groups = append(groups, sliceGroup{column: c.Name, value: c.Levels[code], rows: rows})
		}
	}
	sortGroups(groups)
	return groups
}

// sliceValues returns the display value of each row, "" when missing.
func sliceValues(c *dataset.Column) []string {
	out := make([]string, c.Len())
	for i := range out {
		if !c.IsMissing(i) {
			out[i] = c.String(i)
		}
	}
	return out
}

// sortGroups orders groups by value.
func sortGroups(groups []sliceGroup) {
	slices.SortFunc(groups, func(a, b sliceGroup) int { return strings.Compare(a.value, b.value) })
}

// evaluateSlices evaluates each group for the candidate's predictions pred
// and, when base is not nil, the baseline's. Inputs are already checked.
func evaluateSlices(task string, classes []string, y, pred, base []float64, groups []sliceGroup) []SliceMetrics {
	k := 1
	if task == model.TaskMulticlass {
		k = len(classes)
	}
	out := make([]SliceMetrics, len(groups))
	parallel(len(groups), func(g int) {
		rows := groups[g].rows
		sy := make([]float64, len(rows))
		sp := make([]float64, len(rows)*k)
		var sb []float64
		if base != nil {
			sb = make([]float64, len(rows)*k)
		}
		for j, i := range rows {
			sy[j] = y[i]
			copy(sp[j*k:(j+1)*k], pred[i*k:(i+1)*k])
			if base != nil {
				copy(sb[j*k:(j+1)*k], base[i*k:(i+1)*k])
			}
		}
		out[g] = SliceMetrics{Column: groups[g].column, Value: groups[g].value, Rows: len(rows)}
		out[g].Metrics, _ = metrics.EvaluateChecked(task, classes, sy, sp, false)
		if base != nil {
			out[g].BaselineMetrics, _ = metrics.EvaluateChecked(task, classes, sy, sb, false)
		}
	})
	return out
}

// parallel calls fn(0) … fn(n-1) on at most GOMAXPROCS goroutines and
// returns when all calls have returned.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
