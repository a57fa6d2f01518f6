package drift

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/testenv"
)

// profiles profiles base, then cur on base's edges, as the monitor does.
func profiles(t testing.TB, base, cur *dataset.Frame) (dataset.Profile, dataset.Profile) {
	t.Helper()
	pb := base.Profile()
	pc, err := dataset.ProfileWithEdges(cur, pb.Edges())
	if err != nil {
		t.Fatal(err)
	}
	return pb, pc
}

func numFrame(t testing.TB, name string, x []float64) *dataset.Frame {
	t.Helper()
	f, err := dataset.NewFrame(dataset.NewNumeric(name, x))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// profileError compares the figures from profiles with the exact figures on
// the raw values of one numeric column.
type profileError struct {
	wExact, wProfile   float64 // normalized Wasserstein
	ksExact, ksProfile float64 // KS statistic
}

func measure(t testing.TB, name string, base, cur []float64) profileError {
	t.Helper()
	pb, pc := profiles(t, numFrame(t, name, base), numFrame(t, name, cur))
	w, err := Compare(pb.Columns[0], pc.Columns[0], DefaultNumeric())
	if err != nil {
		t.Fatal(err)
	}
	ks, err := Compare(pb.Columns[0], pc.Columns[0], Metric{Name: MetricKS, Threshold: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	_, d := ProfileWasserstein(pb.Columns[0], pc.Columns[0])
	if ks.Score != d && ks.Baseline > ksMaxExactN {
		t.Fatalf("KS score %g is not the profile's statistic %g", ks.Score, d)
	}
	return profileError{
		wExact: WassersteinNorm(base, cur), wProfile: w.Score,
		ksExact: KS2Samp(base, cur).Statistic, ksProfile: d,
	}
}

// Bounds on the error of figures from profiles, measured below and stated in
// the package doc and docs/monitoring.md.
const (
	maxWNormError = 0.005 // absolute, on the normalized Wasserstein distance
	maxKSError    = 0.01  // absolute, on the KS statistic
)

// TestProfileAccuracySeeded measures the error of the normalized Wasserstein
// distance and the KS statistic from profiles (sketch + histogram) against
// the exact figures on the same seeded samples, on shapes that stress the
// sketch (ties, a large offset, zeros and negatives, heavy tails), at shifts
// around the default threshold, and checks that no verdict changes.
func TestProfileAccuracySeeded(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 2026))
	shapes := []struct {
		name string
		gen  func(shift float64) float64
	}{
		{"normal", func(s float64) float64 { return rng.NormFloat64() + s }},
		{"lognormal", func(s float64) float64 { return math.Exp(rng.NormFloat64() + s) }},
		{"integer-ties", func(s float64) float64 { return math.Floor(12 + 30*(rng.NormFloat64()+s)) }},
		{"offset", func(s float64) float64 { return 2001 + 0.5*(rng.NormFloat64()+s) }},
		{"zeros-negatives", func(s float64) float64 {
			if rng.Float64() < 0.3 {
				return 0
			}
			return 5 * (rng.NormFloat64() + s)
		}},
		{"heavy-tail", func(s float64) float64 { return 10 * (rng.ExpFloat64()*rng.ExpFloat64() + s) }},
	}
	var worstW, worstKS float64
	for _, sh := range shapes {
		for _, shift := range []float64{0, 0.05, 0.1, 0.15, 0.3} {
			name := fmt.Sprintf("%s/shift=%g", sh.name, shift)
			t.Run(name, func(t *testing.T) {
				base := make([]float64, 40000)
				cur := make([]float64, 30000)
				for i := range base {
					base[i] = sh.gen(0)
				}
				for i := range cur {
					cur[i] = sh.gen(shift)
				}
				e := measure(t, sh.name, base, cur)
				dw, dks := math.Abs(e.wProfile-e.wExact), math.Abs(e.ksProfile-e.ksExact)
				worstW, worstKS = max(worstW, dw), max(worstKS, dks)
				t.Logf("normalized W exact %.5f profile %.5f (error %.2g); KS exact %.5f profile %.5f (error %.2g)",
					e.wExact, e.wProfile, dw, e.ksExact, e.ksProfile, dks)
				if dw > maxWNormError || dks > maxKSError {
					t.Errorf("error W %.3g (bound %g), KS %.3g (bound %g)", dw, maxWNormError, dks, maxKSError)
				}
				// The verdict at the default threshold is the same unless the
				// exact figure is within the error bound of the threshold.
				const th = 0.1
				if (e.wExact >= th) != (e.wProfile >= th) && math.Abs(e.wExact-th) > maxWNormError {
					t.Errorf("verdict changed: exact %.5f, from profiles %.5f", e.wExact, e.wProfile)
				}
			})
		}
	}
	t.Logf("worst error from profiles: normalized Wasserstein %.3g, KS statistic %.3g", worstW, worstKS)
}

// flights reads the flights data's feature columns and its month of each row.
func flights(t testing.TB) (*dataset.Frame, []time.Month) {
	t.Helper()
	path := testenv.SharedData(t, "flights-3m.parquet")
	f, err := dataset.Read(context.Background(), path, dataset.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	date, err := f.Col("date")
	if err != nil {
		t.Fatal(err)
	}
	months := make([]time.Month, len(date.Time))
	for i, ns := range date.Time {
		months[i] = time.Unix(0, ns).UTC().Month()
	}
	feats, err := f.Select("delay", "distance", "origin", "destination")
	if err != nil {
		t.Fatal(err)
	}
	return feats, months
}

func rowsOf(months []time.Month, m time.Month) []int {
	var rows []int
	for i, x := range months {
		if x == m {
			rows = append(rows, i)
		}
	}
	return rows
}

// TestProfileAccuracyFlights measures the same errors on the flights data:
// January as the baseline against each later month, for the numeric
// features, and checks every default verdict from profiles equals the
// verdict from the exact figure.
func TestProfileAccuracyFlights(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 3M rows")
	}
	f, months := flights(t)
	base := f.Take(rowsOf(months, time.January))
	for m := time.February; m <= time.June; m++ {
		cur := f.Take(rowsOf(months, m))
		pb, pc := profiles(t, base, cur)
		for _, name := range []string{"origin", "destination"} {
			t.Run(fmt.Sprintf("%s/%s", m, name), func(t *testing.T) {
				cb, _ := base.Col(name)
				cc, _ := cur.Col(name)
				xb, xc := rawCategoryCounts(cb, cc)
				bp, _ := pb.Col(name)
				cp, _ := pc.Col(name)
				for _, base := range []float64{0, 2} {
					m := Metric{Name: MetricJensenShannon, Threshold: 0.1, LogBase: base}
					r, err := Compare(*bp, *cp, m)
					if err != nil {
						t.Fatal(err)
					}
					exact := JensenShannon(xb, xc, base)
					t.Logf("JS base %g over all %d categories %.5f, from the profile (top %d + other) %.5f",
						base, len(xb), exact, dataset.TopK, r.Score)
					// Lumping categories into "other" never raises an
					// f-divergence, so the profile's JS is a lower bound.
					if r.Score > exact+1e-12 || r.Drifted != (exact >= 0.1) {
						t.Errorf("JS from profile %.5f, over all categories %.5f", r.Score, exact)
					}
				}
			})
		}
		for _, name := range []string{"delay", "distance"} {
			t.Run(fmt.Sprintf("%s/%s", m, name), func(t *testing.T) {
				cb, _ := base.Col(name)
				cc, _ := cur.Col(name)
				xb, xc := present(cb.Num), present(cc.Num)
				bp, _ := pb.Col(name)
				cp, _ := pc.Col(name)
				r, err := Compare(*bp, *cp, DefaultNumeric())
				if err != nil {
					t.Fatal(err)
				}
				_, d := ProfileWasserstein(*bp, *cp)
				wExact, ksExact := WassersteinNorm(xb, xc), KS2Samp(xb, xc).Statistic
				dw, dks := math.Abs(r.Score-wExact), math.Abs(d-ksExact)
				t.Logf("n=%d/%d: normalized W exact %.5f profile %.5f (error %.2g); KS exact %.5f profile %.5f (error %.2g)",
					len(xb), len(xc), wExact, r.Score, dw, ksExact, d, dks)
				if dw > maxWNormError || dks > maxKSError {
					t.Errorf("error W %.3g (bound %g), KS %.3g (bound %g)", dw, maxWNormError, dks, maxKSError)
				}
				if r.Drifted != (wExact >= 0.1) {
					t.Errorf("verdict from profiles %v, exact %v", r.Drifted, wExact >= 0.1)
				}
			})
		}
	}
}

// rawCategoryCounts counts every category of two columns, aligned by name.
func rawCategoryCounts(a, b *dataset.Column) (ca, cb []float64) {
	index := map[string]int{}
	count := func(c *dataset.Column, side int, out *[2][]float64) {
		for _, code := range c.Codes {
			if code < 0 {
				continue
			}
			v := c.Levels[code]
			i, ok := index[v]
			if !ok {
				i = len(index)
				index[v] = i
				out[0], out[1] = append(out[0], 0), append(out[1], 0)
			}
			out[side][i]++
		}
	}
	var out [2][]float64
	count(a, 0, &out)
	count(b, 1, &out)
	return out[0], out[1]
}

// present returns the non-NaN values of x.
func present(x []float64) []float64 {
	out := make([]float64, 0, len(x))
	for _, v := range x {
		if !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}
