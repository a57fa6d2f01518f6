package xgboost

import (
	"math"
	"strings"

	"github.com/ferry-ml/ferry"
)

// link is how an objective maps base_score into margin space and margins to
// predictions.
type link uint8

const (
	linkIdentity link = iota // margin = base_score; prediction = margin
	linkLogit                // margin = logit(base_score); prediction = sigmoid(margin)
	linkLogitRaw             // margin = base_score; prediction = margin (binary:logitraw)
	linkLog                  // margin = log(base_score); prediction = exp(margin)
	linkHinge                // margin = base_score; prediction = margin > 0 ? 1 : 0
	linkSoftprob             // margin = base_score per class; prediction = softmax
	linkSoftmax              // margin = base_score per class; prediction = argmax
)

// linkOf returns the link of the objectives this package evaluates. The
// margins of base_score were checked against XGBoost 1.7.4 (a booster
// trained for zero rounds predicts its base margin).
func linkOf(name string) (link, bool) {
	switch name {
	case "reg:squarederror", "reg:linear", "reg:squaredlogerror", "reg:pseudohubererror", "reg:absoluteerror",
		"rank:pairwise", "rank:ndcg", "rank:map":
		return linkIdentity, true
	case "reg:logistic", "binary:logistic":
		return linkLogit, true
	case "binary:logitraw":
		return linkLogitRaw, true
	case "binary:hinge":
		return linkHinge, true
	case "count:poisson", "reg:gamma", "reg:tweedie":
		return linkLog, true
	case "multi:softprob":
		return linkSoftprob, true
	case "multi:softmax":
		return linkSoftmax, true
	}
	return 0, false
}

// Objectives returns the names of the objectives this package evaluates,
// sorted.
func Objectives() []string {
	return []string{
		"binary:hinge", "binary:logistic", "binary:logitraw", "count:poisson",
		"multi:softmax", "multi:softprob", "rank:map", "rank:ndcg", "rank:pairwise",
		"reg:absoluteerror", "reg:gamma", "reg:linear", "reg:logistic", "reg:pseudohubererror",
		"reg:squarederror", "reg:squaredlogerror", "reg:tweedie",
	}
}

type objective struct {
	name string
	link link
}

func newObjective(name string) (objective, error) {
	l, ok := linkOf(name)
	if !ok {
		return objective{}, ferry.Errorf(ferry.ENOTIMPLEMENTED, "the XGBoost objective %q is not supported (supported: %s)", clip(name), strings.Join(Objectives(), ", "))
	}
	return objective{name: name, link: l}, nil
}

func (o objective) multiclass() bool { return o.link == linkSoftprob || o.link == linkSoftmax }

// outputs is the number of predictions per row for a model of groups
// groups: one class index for multi:softmax, one value per group otherwise.
func (o objective) outputs(groups int) int {
	if o.link == linkSoftmax {
		return 1
	}
	return groups
}

// baseMargin maps base_score, which XGBoost stores in the objective's
// output space, to margin space in float32 as XGBoost's ProbToMargin does:
// -log(1/p - 1) for the logistic objectives, log(p) for the log-link ones.
func (o objective) baseMargin(p float32) (float32, error) {
	switch o.link {
	case linkLogit:
		if !(p > 0 && p < 1) {
			return 0, ferry.Errorf(ferry.EINVALID, "base_score %g is not a probability strictly between 0 and 1, as %s needs", p, o.name)
		}
		t := float32(1)/p - float32(1)
		return float32(-math.Log(float64(t))), nil
	case linkLog:
		if !(p > 0) {
			return 0, ferry.Errorf(ferry.EINVALID, "base_score %g must be positive for %s", p, o.name)
		}
		return float32(math.Log(float64(p))), nil
	}
	return p, nil
}

// transform1 turns the margin of a single-group model into its prediction.
func (o objective) transform1(m float32) float64 {
	x := float64(m)
	switch o.link {
	case linkLogit:
		return 1 / (1 + math.Exp(-x))
	case linkLog:
		return math.Exp(x)
	case linkHinge:
		if x > 0 {
			return 1
		}
		return 0
	case linkSoftprob: // one class
		return 1
	case linkSoftmax:
		return 0
	}
	return x // identity, logitraw
}

// transform turns the margins of a multi-group model into its predictions:
// out has outputs(len(m)) values.
func (o objective) transform(m []float32, out []float64) {
	switch o.link {
	case linkSoftprob:
		mx := float64(m[0])
		for _, v := range m[1:] {
			mx = max(mx, float64(v))
		}
		var sum float64
		for i, v := range m {
			e := math.Exp(float64(v) - mx)
			out[i] = e
			sum += e
		}
		for i := range out {
			out[i] /= sum
		}
	case linkSoftmax:
		best := 0
		for i, v := range m {
			if v > m[best] {
				best = i
			}
		}
		out[0] = float64(best)
	default: // a single-output objective with num_class > 1: group by group
		for i, v := range m {
			out[i] = o.transform1(v)
		}
	}
}

// predTransform32 is XGBoost 1.7's PredTransform of the objective in
// float32, which it applies to the base_score of a model saved before
// XGBoost 1.0 (stored as a margin) to bring it back to the output space:
// common::Sigmoid (1 / (expf(min(-x, 88.7)) + 1 + 1e-16)) for the logistic
// objectives, expf for the log-link ones, x > 0 ? 1 : 0 for binary:hinge,
// the identity otherwise (multi: objectives are not transformed).
func (o objective) predTransform32(x float32) float32 {
	switch o.link {
	case linkLogit:
		e := float32(math.Exp(float64(min(-x, 88.7))))
		return 1 / (e + 1 + 1e-16)
	case linkLog:
		return float32(math.Exp(float64(x)))
	case linkHinge:
		if x > 0 {
			return 1
		}
		return 0
	}
	return x
}
