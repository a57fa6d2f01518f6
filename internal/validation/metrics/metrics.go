// Package metrics is Ferry's one set of evaluation metrics, computed as
// scikit-learn computes them: validation reports and gates on them, and
// training reports its validation scores with them.
package metrics

import (
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
)

// Metric names. Classification metrics follow scikit-learn's definitions
// (version 1.2): precision, recall and F1 use zero_division=0, and their
// macro and weighted averages are over the classes that occur among the true
// or the predicted labels (scikit-learn's default label set). Per-class
// metrics are named <metric>_<class label>, e.g. "recall_true",
// "f1_setosa", for those same classes.
const (
	Accuracy          = "accuracy"
	BalancedAccuracy  = "balanced_accuracy"
	PrecisionMacro    = "precision_macro"
	RecallMacro       = "recall_macro"
	F1Macro           = "f1_macro"
	PrecisionWeighted = "precision_weighted"
	RecallWeighted    = "recall_weighted"
	F1Weighted        = "f1_weighted"
	// ROCAUC is the area under the ROC curve: for binary models of
	// P(class 1); for multiclass models the macro average of the one-vs-rest
	// areas (roc_auc_score(multi_class="ovr", average="macro")).
	ROCAUC = "roc_auc"
	// ROCAUCWeighted is the one-vs-rest area weighted by class support
	// (multiclass only).
	ROCAUCWeighted = "roc_auc_weighted"
	// PRAUC is average_precision_score (binary only).
	PRAUC   = "pr_auc"
	LogLoss = "log_loss"
	// Brier is brier_score_loss (binary only).
	Brier = "brier"
	// ECE is the expected calibration error over CalibrationBins
	// equal-width bins: of P(class 1) for binary models, of the top-label
	// confidence (the largest probability) for multiclass models.
	ECE = "ece"

	RMSE     = "rmse"
	MAE      = "mae"
	R2       = "r2"
	MAPE     = "mape"
	MedianAE = "median_ae"
)

// PerClass reports whether name is a per-class metric name —
// precision_<class>, recall_<class> or f1_<class>, the class neither empty
// nor "macro" or "weighted" — and returns its class.
func PerClass(name string) (class string, ok bool) {
	for _, p := range [...]string{"precision_", "recall_", "f1_"} {
		if c, ok := strings.CutPrefix(name, p); ok && c != "" && c != "macro" && c != "weighted" {
			return c, true
		}
	}
	return "", false
}

// Names lists the fixed metric names (the per-class ones aside).
func Names() []string {
	return []string{Accuracy, BalancedAccuracy, PrecisionMacro, RecallMacro, F1Macro,
		PrecisionWeighted, RecallWeighted, F1Weighted, ROCAUC, ROCAUCWeighted,
		PRAUC, LogLoss, Brier, ECE, RMSE, MAE, R2, MAPE, MedianAE}
}

// NamesFor lists the fixed metric names Evaluate computes for models of task
// (model.TaskBinary, model.TaskMulticlass or model.TaskRegression), in the
// order of Names; nil for another task. Classification models also have the
// per-class metrics (see PerClass) of their class labels.
func NamesFor(task string) []string {
	var out []string
	for _, name := range Names() {
		if appliesTo(name, task) {
			out = append(out, name)
		}
	}
	return out
}

// appliesTo reports whether Evaluate computes the fixed metric name for
// models of task (on rows where it is defined).
func appliesTo(name, task string) bool {
	switch name {
	case RMSE, MAE, R2, MAPE, MedianAE:
		return task == model.TaskRegression
	case PRAUC, Brier:
		return task == model.TaskBinary
	case ROCAUCWeighted:
		return task == model.TaskMulticlass
	}
	return task == model.TaskBinary || task == model.TaskMulticlass
}

// MaxCurvePoints bounds the points of each curve in Details and Report.
const MaxCurvePoints = 200

// CalibrationBins is the number of equal-width probability bins of the
// reliability table and of ECE.
const CalibrationBins = 10

// Details holds what Evaluate computes besides the metrics: the tables and
// curves of the charts of a report. ROC, PR and Calibration are for binary
// models only.
type Details struct {
	// Confusion counts rows by true and predicted class (all classes, in
	// class order).
	Confusion *Confusion
	// ROC is sklearn's roc_curve (drop_intermediate=True) as (fpr, tpr,
	// threshold); the first point, (0, 0), has the threshold max score + 1
	// as scikit-learn 1.2 gives it. Nil when the data hold only one class.
	ROC []CurvePoint
	// PR is sklearn's precision_recall_curve as (recall, precision,
	// threshold), by increasing threshold; the last point, (0, 1), has
	// threshold max score + 1. Nil when the data hold no positive row.
	PR []CurvePoint
	// Calibration is the reliability table of P(class 1): CalibrationBins
	// bins, empty ones included, binned as sklearn's calibration_curve
	// (strategy="uniform") bins.
	Calibration []CalibrationBin
}

// Confusion is a confusion matrix: Counts[i][j] rows of true class i
// predicted as class j.
type Confusion struct {
	Labels []string `json:"labels"`
	Counts [][]int  `json:"counts"`
}

// CurvePoint is a point of a ROC or precision-recall curve.
type CurvePoint struct {
	X         float64 `json:"x"`
	Y         float64 `json:"y"`
	Threshold float64 `json:"threshold"`
}

// CalibrationBin is a row of a reliability table.
type CalibrationBin struct {
	Lower         float64 `json:"lower"`
	Upper         float64 `json:"upper"`
	Count         int     `json:"count"`
	MeanPredicted float64 `json:"mean_predicted"`
	FractionTrue  float64 `json:"fraction_true"`
}

// LowerIsBetter reports whether smaller values of the named metric are
// better (the losses and errors); false for every other metric.
func LowerIsBetter(metric string) bool {
	switch metric {
	case LogLoss, Brier, ECE, RMSE, MAE, MAPE, MedianAE:
		return true
	}
	return false
}

// Known reports whether name is a metric Evaluate can produce for some
// model: a fixed name or a per-class name.
func Known(name string) bool {
	if slices.Contains(Names(), name) {
		return true
	}
	_, ok := PerClass(name)
	return ok
}

// Evaluate computes the metrics of predictions pred against the true values
// y for a model of the given task (model.TaskBinary, model.TaskMulticlass or
// model.TaskRegression):
//
//   - binary: y holds class indexes 0 or 1 into classes (2 labels), pred
//     P(class 1) per row; a row is predicted class 1 when P > 0.5 (the
//     argmax of (1-P, P), ties to class 0);
//   - multiclass: y holds class indexes into classes, pred len(classes)
//     probabilities per row, row after row; the predicted class is the
//     first largest probability;
//   - regression: y and pred hold values; classes is ignored.
//
// Metrics are those named by the Metric constants that apply to the task.
// A metric that is undefined on the data is left out of the map rather than
// given as NaN: roc_auc and the ROC curve need both classes among the rows,
// pr_auc a positive row; a multiclass roc_auc averages the classes that have
// both positive and negative rows (when every class occurs this is exactly
// scikit-learn's value, which refuses the other cases).
//
// Inputs that do not fit the task — a class index out of range, a
// probability outside [0, 1], a non-finite value, lengths that do not match,
// no rows — are EINVALID. Evaluate does not retain or modify its arguments
// and is safe for concurrent use.
func Evaluate(task string, classes []string, y, pred []float64) (map[string]float64, *Details, error) {
	if err := Check(task, classes, y, pred); err != nil {
		return nil, nil, err
	}
	m, d := EvaluateChecked(task, classes, y, pred, true)
	return m, d, nil
}

// Check validates Evaluate's arguments: nil when Evaluate would compute
// metrics, the EINVALID error it would return otherwise.
func Check(task string, classes []string, y, pred []float64) error {
	n := len(y)
	if n == 0 {
		return ferry.Errorf(ferry.EINVALID, "no rows to evaluate")
	}
	k := 1
	switch task {
	case model.TaskBinary:
		if len(classes) != 2 {
			return ferry.Errorf(ferry.EINVALID, "a binary model has 2 class labels, not %d", len(classes))
		}
	case model.TaskMulticlass:
		if len(classes) < 2 {
			return ferry.Errorf(ferry.EINVALID, "a multiclass model needs at least 2 class labels, has %d", len(classes))
		}
		k = len(classes)
	case model.TaskRegression:
	default:
		return ferry.Errorf(ferry.EINVALID, "task %q is not binary, multiclass or regression", task)
	}
	if len(pred) != n*k {
		return ferry.Errorf(ferry.EINVALID, "%d predictions for %d rows; want %d per row", len(pred), n, k)
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ferry.Errorf(ferry.EINVALID, "row %d: the true value %v is not a finite number", i+1, v)
		}
		if task != model.TaskRegression && (v != math.Trunc(v) || v < 0 || int(v) >= len(classes)) {
			return ferry.Errorf(ferry.EINVALID, "row %d: %v is not a class index (0 to %d)", i+1, v, len(classes)-1)
		}
	}
	for i, v := range pred {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ferry.Errorf(ferry.EINVALID, "row %d: the prediction %v is not a finite number", i/k+1, v)
		}
		if task != model.TaskRegression && (v < 0 || v > 1) {
			return ferry.Errorf(ferry.EINVALID, "row %d: the prediction %v is not a probability", i/k+1, v)
		}
	}
	return nil
}

// EvaluateChecked is Evaluate on input Check accepted; detail asks for the
// Details (nil otherwise). It lets a caller check once and evaluate many
// subsets (slices) of the rows.
func EvaluateChecked(task string, classes []string, y, pred []float64, detail bool) (map[string]float64, *Details) {
	switch task {
	case model.TaskBinary:
		return evalBinary(classes, y, pred, detail)
	case model.TaskMulticlass:
		return evalMulticlass(classes, y, pred, detail)
	}
	return evalRegression(y, pred), nil
}

// evalBinary computes the metrics of a binary model.
func evalBinary(classes []string, y, p []float64, detail bool) (map[string]float64, *Details) {
	n := len(y)
	truth := make([]int32, n)
	label := make([]int32, n)
	for i := range y {
		truth[i] = int32(y[i])
		if p[i] > 0.5 {
			label[i] = 1
		}
	}
	m := map[string]float64{}
	conf := classification(m, classes, truth, label)

	c := binaryCurve(truth, p)
	if c.pos > 0 && c.neg > 0 {
		m[ROCAUC] = c.auc()
	}
	if c.pos > 0 {
		m[PRAUC] = c.averagePrecision()
	}
	// log_loss as sklearn computes it: clip P to [eps, 1-eps], form
	// (1-P, P), renormalise by its sum.
	const eps = 0x1p-52 // np.finfo(np.float64).eps
	var ll, brier sum
	for i := range y {
		q := min(max(p[i], eps), 1-eps)
		q0, q1 := 1-q, q
		s := q0 + q1
		if truth[i] == 1 {
			ll.add(-math.Log(q1 / s))
		} else {
			ll.add(-math.Log(q0 / s))
		}
		d := y[i] - p[i]
		brier.add(d * d)
	}
	m[LogLoss] = ll.value() / float64(n)
	m[Brier] = brier.value() / float64(n)
	table, ece := calibration(p, func(i int) bool { return truth[i] == 1 })
	m[ECE] = ece
	if !detail {
		return m, nil
	}
	d := &Details{Confusion: conf, Calibration: table}
	if c.pos > 0 && c.neg > 0 {
		d.ROC = thin(c.roc(), MaxCurvePoints)
	}
	if c.pos > 0 {
		d.PR = thin(c.pr(), MaxCurvePoints)
	}
	return m, d
}

// evalMulticlass computes the metrics of a multiclass model.
func evalMulticlass(classes []string, y, p []float64, detail bool) (map[string]float64, *Details) {
	n, k := len(y), len(classes)
	truth := make([]int32, n)
	label := make([]int32, n)
	conf := make([]float64, n)
	for i := range y {
		truth[i] = int32(y[i])
		row := p[i*k : (i+1)*k]
		best := 0
		for j := 1; j < k; j++ {
			if row[j] > row[best] {
				best = j
			}
		}
		label[i] = int32(best)
		conf[i] = row[best]
	}
	m := map[string]float64{}
	cm := classification(m, classes, truth, label)

	// One-vs-rest ROC AUC over the classes with positive and negative rows.
	support := make([]int, k)
	for _, t := range truth {
		support[t]++
	}
	var macro, weighted, wsum float64
	used := 0
	col := make([]float64, n)
	is := make([]int32, n)
	for c := range k {
		if support[c] == 0 || support[c] == n {
			continue
		}
		for i := range n {
			col[i] = p[i*k+c]
			is[i] = 0
			if truth[i] == int32(c) {
				is[i] = 1
			}
		}
		a := binaryCurve(is, col).auc()
		macro += a
		weighted += a * float64(support[c])
		wsum += float64(support[c])
		used++
	}
	if used > 0 {
		m[ROCAUC] = macro / float64(used)
		m[ROCAUCWeighted] = weighted / wsum
	}

	const eps = 0x1p-52
	var ll sum
	for i := range n {
		row := p[i*k : (i+1)*k]
		var s float64
		for _, v := range row {
			s += min(max(v, eps), 1-eps)
		}
		q := min(max(row[truth[i]], eps), 1-eps)
		ll.add(-math.Log(q / s))
	}
	m[LogLoss] = ll.value() / float64(n)
	_, ece := calibration(conf, func(i int) bool { return label[i] == truth[i] })
	m[ECE] = ece
	if !detail {
		return m, nil
	}
	return m, &Details{Confusion: cm}
}

// classification adds accuracy, balanced accuracy, and per-class, macro and
// weighted precision, recall and F1 to m, and returns the confusion matrix.
func classification(m map[string]float64, classes []string, truth, label []int32) *Confusion {
	k := len(classes)
	counts := make([][]int, k)
	for c := range counts {
		counts[c] = make([]int, k)
	}
	for i := range truth {
		counts[truth[i]][label[i]]++
	}
	trueSum := make([]int, k)
	predSum := make([]int, k)
	correct := 0
	for a := range k {
		for b := range k {
			trueSum[a] += counts[a][b]
			predSum[b] += counts[a][b]
		}
		correct += counts[a][a]
	}
	n := len(truth)
	m[Accuracy] = float64(correct) / float64(n)

	var recalls []float64
	var pMacro, rMacro, fMacro, pW, rW, fW, wSum float64
	present := 0
	for c := range k {
		if trueSum[c] == 0 && predSum[c] == 0 {
			continue // not among sklearn's labels
		}
		present++
		tp := float64(counts[c][c])
		var prec, rec float64
		if predSum[c] > 0 {
			prec = tp / float64(predSum[c])
		}
		if trueSum[c] > 0 {
			rec = tp / float64(trueSum[c])
			recalls = append(recalls, rec)
		}
		denom := prec + rec
		if denom == 0 {
			denom = 1
		}
		f := 2 * prec * rec / denom
		m["precision_"+classes[c]] = prec
		m["recall_"+classes[c]] = rec
		m["f1_"+classes[c]] = f
		pMacro += prec
		rMacro += rec
		fMacro += f
		w := float64(trueSum[c])
		pW += prec * w
		rW += rec * w
		fW += f * w
		wSum += w
	}
	m[PrecisionMacro] = pMacro / float64(present)
	m[RecallMacro] = rMacro / float64(present)
	m[F1Macro] = fMacro / float64(present)
	m[PrecisionWeighted] = pW / wSum
	m[RecallWeighted] = rW / wSum
	m[F1Weighted] = fW / wSum
	var b float64
	for _, r := range recalls {
		b += r
	}
	m[BalancedAccuracy] = b / float64(len(recalls))
	return &Confusion{Labels: slices.Clone(classes), Counts: counts}
}

// curve holds the cumulative counts of a binary ranking at each distinct
// score, by decreasing score: sklearn's _binary_clf_curve.
type curve struct {
	fps, tps   []float64 // negatives and positives scored >= thresholds[i]
	thresholds []float64 // distinct scores, decreasing
	pos, neg   float64
}

// binaryCurve ranks the scores s of rows labelled is (0 or 1). The scores
// of each class are sorted apart (radix sort on their bits) and merged from
// the top, so that ties across classes fall on one threshold.
func binaryCurve(is []int32, s []float64) curve {
	var pos, neg []uint64
	for i, v := range s {
		if is[i] == 1 {
			pos = append(pos, floatKey(v))
		} else {
			neg = append(neg, floatKey(v))
		}
	}
	sortKeys(pos)
	sortKeys(neg)
	var c curve
	var tp, fp float64
	i, j := len(pos)-1, len(neg)-1
	for i >= 0 || j >= 0 {
		var k uint64
		switch {
		case i < 0:
			k = neg[j]
		case j < 0:
			k = pos[i]
		default:
			k = max(pos[i], neg[j])
		}
		for i >= 0 && pos[i] == k {
			tp++
			i--
		}
		for j >= 0 && neg[j] == k {
			fp++
			j--
		}
		c.tps = append(c.tps, tp)
		c.fps = append(c.fps, fp)
		c.thresholds = append(c.thresholds, keyFloat(k))
	}
	c.pos, c.neg = tp, fp
	return c
}

// floatKey maps a finite float to a uint64 of the same order (-0 as 0).
func floatKey(v float64) uint64 {
	if v == 0 {
		v = 0
	}
	b := math.Float64bits(v)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

// keyFloat inverts floatKey.
func keyFloat(k uint64) float64 {
	if k>>63 == 1 {
		return math.Float64frombits(k &^ (1 << 63))
	}
	return math.Float64frombits(^k)
}

// sortKeys sorts keys ascending: an LSD radix sort on 16-bit digits for
// long slices, skipping digits every key shares.
func sortKeys(keys []uint64) {
	if len(keys) < 1<<12 {
		slices.Sort(keys)
		return
	}
	tmp := make([]uint64, len(keys))
	src, dst := keys, tmp
	var counts [1 << 16]int
	for shift := 0; shift < 64; shift += 16 {
		clear(counts[:])
		for _, k := range src {
			counts[(k>>shift)&0xffff]++
		}
		if counts[(src[0]>>shift)&0xffff] == len(src) {
			continue // every key has this digit
		}
		sum := 0
		for d, n := range counts {
			counts[d] = sum
			sum += n
		}
		for _, k := range src {
			d := (k >> shift) & 0xffff
			dst[counts[d]] = k
			counts[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

// auc is the trapezoidal area under the ROC curve through (0, 0) and every
// distinct threshold, as sklearn's roc_auc_score. The sum is of integers,
// exact below 2^53, and divided once.
func (c curve) auc() float64 {
	var area, pf, pt float64
	for i := range c.tps {
		area += (c.fps[i] - pf) * (c.tps[i] + pt)
		pf, pt = c.fps[i], c.tps[i]
	}
	return area / 2 / (c.pos * c.neg)
}

// averagePrecision is sklearn's average_precision_score: the sum over
// thresholds of the recall gained times the precision there.
func (c curve) averagePrecision() float64 {
	var ap sum
	var pt float64
	for i := range c.tps {
		if d := c.tps[i] - pt; d > 0 {
			ap.add(d * (c.tps[i] / (c.tps[i] + c.fps[i])))
		}
		pt = c.tps[i]
	}
	return ap.value() / c.pos
}

// roc returns the ROC curve as sklearn's roc_curve with
// drop_intermediate=True: corners only, from (0, 0).
func (c curve) roc() []CurvePoint {
	keep := make([]int, 0, len(c.tps))
	last := len(c.tps) - 1
	for i := range c.tps {
		if i == 0 || i == last || last < 2 ||
			c.fps[i+1]-2*c.fps[i]+c.fps[i-1] != 0 || c.tps[i+1]-2*c.tps[i]+c.tps[i-1] != 0 {
			keep = append(keep, i)
		}
	}
	out := make([]CurvePoint, 0, len(keep)+1)
	out = append(out, CurvePoint{X: 0, Y: 0, Threshold: c.thresholds[0] + 1})
	for _, i := range keep {
		out = append(out, CurvePoint{X: c.fps[i] / c.neg, Y: c.tps[i] / c.pos, Threshold: c.thresholds[i]})
	}
	return out
}

// pr returns the precision-recall curve as sklearn's
// precision_recall_curve: by increasing threshold, ending at (0, 1).
func (c curve) pr() []CurvePoint {
	out := make([]CurvePoint, 0, len(c.tps)+1)
	for i := len(c.tps) - 1; i >= 0; i-- {
		out = append(out, CurvePoint{X: c.tps[i] / c.pos, Y: c.tps[i] / (c.tps[i] + c.fps[i]), Threshold: c.thresholds[i]})
	}
	return append(out, CurvePoint{X: 0, Y: 1, Threshold: c.thresholds[0] + 1})
}

// thin keeps at most max points of pts, evenly spaced by index, the first
// and the last always.
func thin(pts []CurvePoint, max int) []CurvePoint {
	if len(pts) <= max {
		return pts
	}
	out := make([]CurvePoint, max)
	for i := range out {
		out[i] = pts[int(math.Round(float64(i)*float64(len(pts)-1)/float64(max-1)))]
	}
	return out
}

// calibrationEdges are the bin edges of numpy's linspace(0, 1, 11).
func calibrationEdges() [CalibrationBins + 1]float64 {
	var e [CalibrationBins + 1]float64
	for i := range CalibrationBins {
		e[i] = float64(i) * (1.0 / CalibrationBins)
	}
	e[CalibrationBins] = 1
	return e
}

// calibration bins the probabilities p as sklearn's calibration_curve does
// (bin b holds edges[b] < p <= edges[b+1], bin 0 also p = 0) and returns the
// reliability table and the expected calibration error, the row-weighted mean
// of |fraction positive - mean probability| over the bins. positive says
// whether row i counts as a hit.
func calibration(p []float64, positive func(i int) bool) ([]CalibrationBin, float64) {
	edges := calibrationEdges()
	var total, hits [CalibrationBins]int
	var sums [CalibrationBins]float64
	for i, v := range p {
		b := min(int(v*CalibrationBins), CalibrationBins-1)
		for b > 0 && v <= edges[b] {
			b--
		}
		for b < CalibrationBins-1 && v > edges[b+1] {
			b++
		}
		total[b]++
		sums[b] += v
		if positive(i) {
			hits[b]++
		}
	}
	table := make([]CalibrationBin, CalibrationBins)
	var ece float64
	for b := range table {
		table[b] = CalibrationBin{Lower: edges[b], Upper: edges[b+1], Count: total[b]}
		if total[b] == 0 {
			continue
		}
		t := float64(total[b])
		table[b].MeanPredicted = sums[b] / t
		table[b].FractionTrue = float64(hits[b]) / t
		ece += t / float64(len(p)) * math.Abs(table[b].FractionTrue-table[b].MeanPredicted)
	}
	return table, ece
}

// evalRegression computes the metrics of a regression model.
func evalRegression(y, pred []float64) map[string]float64 {
	n := float64(len(y))
	var sq, abs, pct, ysum sum
	absErr := make([]float64, len(y))
	const eps = 0x1p-52 // np.finfo(np.float64).eps, sklearn's MAPE floor
	for i := range y {
		d := y[i] - pred[i]
		sq.add(d * d)
		a := math.Abs(pred[i] - y[i])
		absErr[i] = a
		abs.add(a)
		pct.add(a / max(math.Abs(y[i]), eps))
		ysum.add(y[i])
	}
	mean := ysum.value() / n
	var tot sum
	for _, v := range y {
		tot.add((v - mean) * (v - mean))
	}
	num, den := sq.value(), tot.value()
	r2 := 1.0
	switch {
	case den != 0:
		r2 = 1 - num/den
	case num != 0:
		r2 = 0 // sklearn's force_finite: a constant target predicted imperfectly
	}
	return map[string]float64{
		RMSE:     math.Sqrt(num / n),
		MAE:      abs.value() / n,
		R2:       r2,
		MAPE:     pct.value() / n,
		MedianAE: median(absErr),
	}
}

// median returns the median of xs (the mean of the middle two for an even
// count), reordering xs.
func median(xs []float64) float64 {
	sort.Float64s(xs)
	h := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[h]
	}
	return (xs[h-1] + xs[h]) / 2
}

// sum is a compensated (Neumaier) sum, so that means over millions of rows
// keep their last digits.
type sum struct{ s, c float64 }

func (k *sum) add(x float64) {
	t := k.s + x
	if math.Abs(k.s) >= math.Abs(x) {
		k.c += (k.s - t) + x
	} else {
		k.c += (x - t) + k.s
	}
	k.s = t
}

func (k *sum) value() float64 { return k.s + k.c }
