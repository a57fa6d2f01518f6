package gbdt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"

	"github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/parallel"
)

// Data is a training or validation set, column-wise. Label holds 0/1 for
// binary, 0..K-1 for multiclass and any finite number for regression. Weight
// is optional (nil means every row weighs 1); weights must be >= 0. The
// trainer never modifies the slices.
type Data struct {
	Features []native.Feature
	Label    []float64
	Weight   []float64
}

// NumRows is the number of rows.
func (d *Data) NumRows() int { return len(d.Label) }

// Params are the hyperparameters of Train (the model file records them as
// native.GBDTParams). Start from
// DefaultParams; zero values of MaxBins, NumThreads, Subsample,
// ColSampleByTree and MaxCatThreshold mean their defaults, every other field
// is taken as given.
//
// Trees grow depth-wise (level by level, like XGBoost's
// grow_policy=depthwise) when MaxLeaves is 0, and leaf-wise (best gain
// first, like LightGBM or XGBoost's lossguide) when MaxLeaves > 0; MaxDepth 0
// means no depth limit and is only allowed with MaxLeaves > 0.
//
// Split gain is G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ), as XGBoost's code
// computes it (no ½ factor); a split is made only when its gain is > Gamma
// and both children have hessian sums >= MinChildWeight. Leaf values are
// −G/(H+λ) × LearningRate, rounded to float32.
type Params = native.GBDTParams

// DefaultParams returns XGBoost-like defaults for the objective: 100
// rounds, learning rate 0.3, depth 6, λ = 1, min child weight 1, 256 bins and
// MaxCatThreshold 64 (fewer than 64 categories on one side of a categorical
// split, as XGBoost counts them).
func DefaultParams(objective string) Params {
	return Params{
		Objective:       objective,
		NumRounds:       100,
		LearningRate:    0.3,
		MaxDepth:        6,
		MinChildWeight:  1,
		Lambda:          1,
		Subsample:       1,
		ColSampleByTree: 1,
		MaxBins:         256,
		MaxCatThreshold: 64,
	}
}

// Callback is called after every boosting round (iter counts from 0)
// with the round's training and validation metric: log loss for binary,
// multiclass log loss for multiclass, RMSE for regression. validMetric is
// NaN without a validation set. A non-nil error stops training and is
// returned by Train. The training metric is only computed when a
// callback is given.
type Callback func(iter int, trainMetric, validMetric float64) error

// resolve fills defaults and checks p.
func resolve(p Params) (Params, error) {
	if p.MaxBins == 0 {
		p.MaxBins = 256
	}
	if p.NumThreads <= 0 {
		p.NumThreads = runtime.GOMAXPROCS(0)
	}
	if p.Subsample == 0 {
		p.Subsample = 1
	}
	if p.ColSampleByTree == 0 {
		p.ColSampleByTree = 1
	}
	if p.MaxCatThreshold == 0 {
		p.MaxCatThreshold = 64
	}
	switch {
	case p.Objective != native.ObjectiveBinary && p.Objective != native.ObjectiveMulticlass && p.Objective != native.ObjectiveRegression:
		return p, fmt.Errorf("objective %q: want %s, %s or %s", p.Objective, native.ObjectiveBinary, native.ObjectiveMulticlass, native.ObjectiveRegression)
	case p.NumRounds <= 0:
		return p, fmt.Errorf("num rounds %d: must be positive", p.NumRounds)
	case !(p.LearningRate > 0) || math.IsInf(p.LearningRate, 0):
		return p, fmt.Errorf("learning rate %v: must be positive", p.LearningRate)
	case p.MaxDepth < 0 || p.MaxLeaves < 0:
		return p, errors.New("max depth and max leaves must not be negative")
	case p.MaxDepth == 0 && p.MaxLeaves == 0:
		return p, errors.New("max depth 0 (unlimited) needs max leaves > 0")
	case p.MaxLeaves == 1:
		return p, errors.New("max leaves must be 0 or at least 2")
	case !(p.MinChildWeight >= 0) || !(p.Lambda >= 0) || !(p.Gamma >= 0):
		return p, errors.New("min child weight, lambda and gamma must not be negative")
	case !(p.Subsample > 0 && p.Subsample <= 1):
		return p, fmt.Errorf("subsample %v: must be in (0, 1]", p.Subsample)
	case !(p.ColSampleByTree > 0 && p.ColSampleByTree <= 1):
		return p, fmt.Errorf("colsample by tree %v: must be in (0, 1]", p.ColSampleByTree)
	case p.MaxBins < 2 || p.MaxBins > 256:
		return p, fmt.Errorf("max bins %d: must be in 2..256", p.MaxBins)
	case p.MaxCatThreshold < 1:
		return p, fmt.Errorf("max cat threshold %d: must be positive", p.MaxCatThreshold)
	case p.EarlyStoppingRounds < 0:
		return p, errors.New("early stopping rounds must not be negative")
	case p.NumClass < 0 || (p.NumClass > 0 && p.Objective != native.ObjectiveMulticlass):
		return p, errors.New("num class is only for the multiclass objective")
	}
	return p, nil
}

// checkData validates d against itself and, when schema is non-nil, against
// the training features. It returns the number of classes seen in the labels
// for multiclass (max label + 1).
func checkData(d *Data, objective string, schema []native.FeatureInfo) (int, error) {
	n := len(d.Label)
	if n == 0 {
		return 0, errors.New("no rows")
	}
	if len(d.Features) == 0 {
		return 0, errors.New("no features")
	}
	if schema != nil && len(d.Features) != len(schema) {
		return 0, fmt.Errorf("%d features, training had %d", len(d.Features), len(schema))
	}
	for j := range d.Features {
		f := &d.Features[j]
		if (f.Num == nil) == (f.Codes == nil) {
			return 0, fmt.Errorf("feature %d (%q): exactly one of Num and Codes must be set", j, f.Name)
		}
		if f.Len() != n {
			return 0, fmt.Errorf("feature %d (%q): %d rows, labels have %d", j, f.Name, f.Len(), n)
		}
		if schema != nil && f.Categorical() != schema[j].Categorical {
			return 0, fmt.Errorf("feature %d (%q): categorical in one set and numeric in the other", j, f.Name)
		}
		if schema != nil && f.Levels != nil && schema[j].Levels != nil && !slices.Equal(f.Levels, schema[j].Levels) {
			return 0, fmt.Errorf("feature %d (%q): category levels differ from the training set's", j, f.Name)
		}
		if f.Codes != nil && f.Levels != nil {
			for i, c := range f.Codes {
				if c < -1 || int(c) >= len(f.Levels) {
					return 0, fmt.Errorf("feature %d (%q) row %d: code %d outside -1..%d", j, f.Name, i, c, len(f.Levels)-1)
				}
			}
		} else if f.Codes != nil {
			for i, c := range f.Codes {
				if c < -1 {
					return 0, fmt.Errorf("feature %d (%q) row %d: code %d below -1", j, f.Name, i, c)
				}
			}
		}
	}
	if d.Weight != nil {
		if len(d.Weight) != n {
			return 0, fmt.Errorf("%d weights for %d rows", len(d.Weight), n)
		}
		for i, w := range d.Weight {
			if !(w >= 0) || math.IsInf(w, 0) {
				return 0, fmt.Errorf("row %d: weight %v must be finite and not negative", i, w)
			}
		}
	}
	classes := 0
	for i, y := range d.Label {
		switch objective {
		case native.ObjectiveBinary:
			if y != 0 && y != 1 {
				return 0, fmt.Errorf("row %d: binary label %v must be 0 or 1", i, y)
			}
		case native.ObjectiveMulticlass:
			if y < 0 || y != math.Trunc(y) || y > 1<<20 {
				return 0, fmt.Errorf("row %d: class label %v must be an integer 0..K-1", i, y)
			}
			classes = max(classes, int(y)+1)
		default:
			if math.IsNaN(y) || math.IsInf(y, 0) {
				return 0, fmt.Errorf("row %d: label %v must be finite", i, y)
			}
		}
	}
	return classes, nil
}

// Train fits gradient-boosted trees to train. valid, when non-nil, is
// scored after every round (and drives EarlyStoppingRounds); it must have
// the same features in the same order, categorical codes meaning the same
// categories. onIter, when non-nil, is called after every round.
//
// The result depends only on the data and p (never on NumThreads, timing or
// map order): training twice gives models with identical bytes. Errors wrap
// native.ErrInvalidGBDT for bad data or parameters; ctx ending stops training
// between rounds with ctx.Err(). The slices in train and valid are read, not
// retained; the caller must not modify them during the call. Concurrent
// calls are safe.
func Train(ctx context.Context, train, valid *Data, p Params, onIter Callback) (*native.GBDT, error) {
	p, err := resolve(p)
	if err != nil {
		return nil, fmt.Errorf("train: gbdt params: %w: %w", native.ErrInvalidGBDT, err)
	}
	if train == nil {
		return nil, fmt.Errorf("train: gbdt: %w: no training data", native.ErrInvalidGBDT)
	}
	classes, err := checkData(train, p.Objective, nil)
	if err != nil {
		return nil, fmt.Errorf("train: gbdt training data: %w: %w", native.ErrInvalidGBDT, err)
	}
	k := 1
	if p.Objective == native.ObjectiveMulticlass {
		if p.NumClass == 0 {
			p.NumClass = classes
		}
		if p.NumClass < 2 || classes > p.NumClass {
			return nil, fmt.Errorf("train: gbdt: %w: %d classes in labels, num class %d", native.ErrInvalidGBDT, classes, p.NumClass)
		}
		k = p.NumClass
	}
	if p.EarlyStoppingRounds > 0 && valid == nil {
		return nil, fmt.Errorf("train: gbdt: %w: early stopping needs a validation set", native.ErrInvalidGBDT)
	}

	m := native.GBDT{
		Objective: p.Objective,
		NumClass:  k,
		Params:    p,
		Features:  make([]native.FeatureInfo, len(train.Features)),
	}
	m.Params.NumThreads = 0
	for j := range train.Features {
		f := &train.Features[j]
		fi := native.FeatureInfo{Name: f.Name, Categorical: f.Categorical()}
		if fi.Categorical {
			fi.Levels = f.Levels
			if fi.Levels == nil {
				maxc := int32(-1)
				for _, c := range f.Codes {
					maxc = max(maxc, c)
				}
				fi.NumLevels = int(maxc) + 1
			} else {
				fi.NumLevels = len(f.Levels)
			}
		}
		m.Features[j] = fi
	}
	if valid != nil {
		if _, err := checkData(valid, p.Objective, m.Features); err != nil {
			return nil, fmt.Errorf("train: gbdt validation data: %w: %w", native.ErrInvalidGBDT, err)
		}
		if p.Objective == native.ObjectiveMulticlass {
			for i, y := range valid.Label {
				if int(y) >= k {
					return nil, fmt.Errorf("train: gbdt validation data: %w: row %d: class %v, model has %d", native.ErrInvalidGBDT, i, y, k)
				}
			}
		}
	}
	m.BaseScore = baseScore(p.Objective, train.Label, train.Weight)

	bm := binFeatures(train.Features, p.MaxBins, p.NumThreads)
	n := train.NumRows()
	g := newGrower(bm, n, p)

	base := m.BaseMargin()
	margin := make([]float64, n*k)
	for i := range margin {
		margin[i] = float64(base)
	}
	trainBins := make([][]uint8, len(bm))
	for j := range bm {
		trainBins[j] = bm[j].bins
	}
	var vmargin []float64
	var validBins [][]uint8
	if valid != nil {
		validBins = make([][]uint8, len(bm))
		parallel.For(p.NumThreads, len(bm), func(j int) {
			validBins[j] = binLike(&bm[j], &valid.Features[j])
		})
		vmargin = make([]float64, valid.NumRows()*k)
		for i := range vmargin {
			vmargin[i] = float64(base)
		}
	}
	grad := make([]gpair, n*k)
	rng := rand.New(rand.NewPCG(p.Seed, 0x6762_6474_2d66_6572)) // "gbdt-fer"
	sampled := make([]bool, n)
	var sample []uint32
	if p.Subsample < 1 {
		sample = make([]uint32, 0, n)
	}
	allFeatures := make([]int, len(train.Features))
	for j := range allFeatures {
		allFeatures[j] = j
	}
	bestMetric, bestRound := math.Inf(1), -1
	var trees []native.Tree

	gradients(p.Objective, k, margin, train.Label, train.Weight, grad, false, p.NumThreads)
	for round := 0; round < p.NumRounds; round++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if p.Subsample < 1 {
			sample = sample[:0]
			for i := range n {
				sampled[i] = rng.Float64() < p.Subsample
				if sampled[i] {
					sample = append(sample, uint32(i))
				}
			}
			if len(sample) == 0 { // keep at least one row
				sampled[0] = true
				sample = append(sample, 0)
			}
		}
		for c := 0; c < k; c++ {
			feats := allFeatures
			if p.ColSampleByTree < 1 {
				nf := max(1, int(math.Round(p.ColSampleByTree*float64(len(allFeatures)))))
				feats = rng.Perm(len(allFeatures))[:nf]
				slices.Sort(feats)
			}
			t := g.grow(grad[c*n:(c+1)*n], sample, feats)
			t.Class = c
			g.updateMargins(&t, margin, k, c)
			if p.Subsample < 1 {
				updateUnsampled(&t, trainBins, margin, k, c, sampled, p.NumThreads)
			}
			if valid != nil {
				addTreeMargins(&t, validBins, vmargin, k, c, p.NumThreads)
			}
			trees = append(trees, t.Tree)
		}
		// the next round's gradients and this round's training metric
		trainMetric, validMetric := math.NaN(), math.NaN()
		if round+1 < p.NumRounds {
			trainMetric = gradients(p.Objective, k, margin, train.Label, train.Weight, grad, onIter != nil, p.NumThreads)
		} else if onIter != nil {
			trainMetric = gradients(p.Objective, k, margin, train.Label, train.Weight, nil, true, p.NumThreads)
		}
		if valid != nil {
			validMetric = gradients(p.Objective, k, vmargin, valid.Label, valid.Weight, nil, true, p.NumThreads)
		}
		if onIter != nil {
			if err := onIter(round, trainMetric, validMetric); err != nil {
				return nil, fmt.Errorf("train: gbdt round %d: %w", round, err)
			}
		}
		if valid != nil && validMetric < bestMetric {
			bestMetric, bestRound = validMetric, round
		}
		if p.EarlyStoppingRounds > 0 && round-bestRound >= p.EarlyStoppingRounds {
			break
		}
	}
	if p.EarlyStoppingRounds > 0 && bestRound >= 0 {
		trees = trees[:(bestRound+1)*k]
	}
	m.BestIteration = len(trees)/k - 1
	return native.NewGBDT(m, trees), nil
}

// baseScore is the initial prediction in XGBoost's base_score convention:
// the weighted base rate for binary (a probability, clipped to
// [1e-6, 1-1e-6]), the weighted label mean for regression and 0.5 for
// multiclass (it shifts every class margin alike, so it has no effect on the
// probabilities). It is rounded to float32, as XGBoost stores it.
func baseScore(objective string, y, w []float64) float64 {
	if objective == native.ObjectiveMulticlass {
		return 0.5
	}
	var s, sw float64
	for i, v := range y {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		s += wi * v
		sw += wi
	}
	mean := 0.5
	if sw > 0 {
		mean = s / sw
	}
	if objective == native.ObjectiveBinary {
		mean = min(max(mean, 1e-6), 1-1e-6)
	}
	return float64(float32(mean))
}

// gpair is one row's gradient and hessian.
type gpair struct{ g, h float32 }

// blockSize is the fixed row block of parallel loops whose partial results
// are combined: it never depends on the thread count, so neither do sums.
const blockSize = 1 << 14

func numBlocks(n int) int { return (n + blockSize - 1) / blockSize }

// gradients fills grad (class-major: grad[c*n+i]) from the margins when
// grad is not nil, and returns the metric of the margins when withMetric is
// set (NaN otherwise): weighted log loss, multiclass log loss or RMSE. One
// pass serves both, sharing the probabilities. Rows are processed in fixed
// blocks whose metric sums are added in block order.
func gradients(obj string, k int, margin, y, w []float64, grad []gpair, withMetric bool, threads int) float64 {
	n := len(y)
	nb := numBlocks(n)
	sums := make([]float64, nb)
	wsums := make([]float64, nb)
	parallel.For(threads, nb, func(b int) {
		lo, hi := b*blockSize, min((b+1)*blockSize, n)
		var prob []float64
		if k > 1 {
			prob = make([]float64, k)
		}
		const eps = 1e-15
		var s, sw float64
		// Unweighted log losses are summed as the log of products of up to
		// 16 probabilities (each >= 1e-15, so no underflow): one logarithm
		// per 16 rows instead of one per row.
		prod, inProd := 1.0, 0
		for i := lo; i < hi; i++ {
			wi := 1.0
			if w != nil {
				wi = w[i]
			}
			q := 0.0 // probability of the true label
			switch obj {
			case native.ObjectiveBinary:
				p := native.Sigmoid(margin[i])
				if grad != nil {
					h := max(p*(1-p), 1e-16)
					grad[i] = gpair{float32((p - y[i]) * wi), float32(h * wi)}
				}
				q = p
				if y[i] == 0 {
					q = 1 - p
				}
			case native.ObjectiveRegression:
				d := margin[i] - y[i]
				if grad != nil {
					grad[i] = gpair{float32(d * wi), float32(wi)}
				}
				s += wi * d * d
			default:
				native.Softmax(margin[i*k:(i+1)*k], prob)
				label := int(y[i])
				if grad != nil {
					for c := 0; c < k; c++ {
						p := prob[c]
						t := 0.0
						if c == label {
							t = 1
						}
						h := max(2*p*(1-p), 1e-16)
						grad[c*n+i] = gpair{float32((p - t) * wi), float32(h * wi)}
					}
				}
				q = prob[label]
			}
			if !withMetric {
				continue
			}
			sw += wi
			if obj != native.ObjectiveRegression {
				q = min(max(q, eps), 1-eps)
				if w != nil {
					s -= wi * math.Log(q)
				} else {
					prod *= q
					if inProd++; inProd == 16 {
						s -= math.Log(prod)
						prod, inProd = 1, 0
					}
				}
			}
		}
		if inProd > 0 {
			s -= math.Log(prod)
		}
		sums[b], wsums[b] = s, sw
	})
	if !withMetric {
		return math.NaN()
	}
	var s, sw float64
	for b := range sums {
		s += sums[b]
		sw += wsums[b]
	}
	if sw == 0 {
		return math.NaN()
	}
	if obj == native.ObjectiveRegression {
		return math.Sqrt(s / sw)
	}
	return s / sw
}

// updateUnsampled adds tree t's output to the training rows that were left
// out of this round's sample (the sampled rows were updated from the leaf
// row sets).
func updateUnsampled(t *tree, cols [][]uint8, margin []float64, k, c int, sampled []bool, threads int) {
	n := len(sampled)
	parallel.For(threads, numBlocks(n), func(b int) {
		for i := b * blockSize; i < min((b+1)*blockSize, n); i++ {
			if !sampled[i] {
				margin[i*k+c] += float64(t.Value[t.leafBins(cols, i)])
			}
		}
	})
}

// addTreeMargins adds tree t's output to every row of the binned columns.
func addTreeMargins(t *tree, cols [][]uint8, margin []float64, k, c int, threads int) {
	n := len(cols[0])
	parallel.For(threads, numBlocks(n), func(b int) {
		for i := b * blockSize; i < min((b+1)*blockSize, n); i++ {
			margin[i*k+c] += float64(t.Value[t.leafBins(cols, i)])
		}
	})
}
