package drift

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// scipyFixture is testdata/scipy.json, written by testdata/gen_scipy.py with
// SciPy 1.10.1.
type scipyFixture struct {
	SciPy   string `json:"scipy"`
	KS2Samp []struct {
		Name      string    `json:"name"`
		A         []float64 `json:"a"`
		B         []float64 `json:"b"`
		Statistic float64   `json:"statistic"`
		PValue    float64   `json:"p_value"`
		Method    KSMethod  `json:"method"`
	} `json:"ks_2samp"`
	KStwoSF []struct {
		N  int     `json:"n"`
		X  float64 `json:"x"`
		SF float64 `json:"sf"`
	} `json:"kstwo_sf"`
	Wasserstein []struct {
		Name     string    `json:"name"`
		A        []float64 `json:"a"`
		B        []float64 `json:"b"`
		Distance float64   `json:"distance"`
		Normed   float64   `json:"normed"`
	} `json:"wasserstein"`
	Binned []struct {
		Name     string    `json:"name"`
		Baseline []float64 `json:"baseline"`
		Current  []float64 `json:"current"`
		JS2      float64   `json:"js_base2"`
		JSe      float64   `json:"js_base_e"`
		PSI      float64   `json:"psi"`
		Chi2     *float64  `json:"chi2_statistic"`
		Chi2P    *float64  `json:"chi2_p_value"`
	} `json:"binned"`
	ZTest []struct {
		K1, N1, K2, N2 int64
		Z              float64 `json:"z"`
		PValue         float64 `json:"p_value"`
	} `json:"ztest"`
}

func loadSciPy(t *testing.T) scipyFixture {
	t.Helper()
	raw, err := os.ReadFile("testdata/scipy.json")
	if err != nil {
		t.Fatal(err)
	}
	var f scipyFixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if f.SciPy != "1.10.1" {
		t.Fatalf("fixture from SciPy %s, want 1.10.1", f.SciPy)
	}
	return f
}

// within reports whether got equals want within tol, absolutely or
// relatively (for figures far from 1), with NaN and infinities equal to
// themselves.
func within(got, want, tol float64) bool {
	if math.IsNaN(want) || math.IsInf(want, 0) {
		return got == want || (math.IsNaN(got) && math.IsNaN(want))
	}
	d := math.Abs(got - want)
	return d <= tol || d <= tol*math.Abs(want)
}

// TestSciPyParity checks every exact metric against SciPy 1.10.1 on the same
// inputs within 1e-9 (Must show: Numerics).
func TestSciPyParity(t *testing.T) {
	const tol = 1e-9
	f := loadSciPy(t)
	t.Run("ks_2samp", func(t *testing.T) {
		for _, c := range f.KS2Samp {
			t.Run(c.Name, func(t *testing.T) {
				got := KS2Samp(c.A, c.B)
				if !within(got.Statistic, c.Statistic, tol) || !within(got.PValue, c.PValue, tol) || got.Method != c.Method {
					t.Errorf("n=%d,%d: got D=%.17g p=%.17g (%s), SciPy D=%.17g p=%.17g (%s)",
						len(c.A), len(c.B), got.Statistic, got.PValue, got.Method, c.Statistic, c.PValue, c.Method)
				}
			})
		}
	})
	t.Run("kstwo.sf", func(t *testing.T) {
		for _, c := range f.KStwoSF {
			if got := kstwoSF(c.N, c.X); !within(got, c.SF, tol) {
				t.Errorf("kstwo.sf(%g, %d) = %.17g, SciPy %.17g", c.X, c.N, got, c.SF)
			}
		}
	})
	t.Run("wasserstein_distance", func(t *testing.T) {
		for _, c := range f.Wasserstein {
			t.Run(c.Name, func(t *testing.T) {
				if got := Wasserstein(c.A, c.B); !within(got, c.Distance, tol) {
					t.Errorf("got %.17g, SciPy %.17g", got, c.Distance)
				}
				if got := WassersteinNorm(c.A, c.B); !within(got, c.Normed, tol) {
					t.Errorf("normed: got %.17g, SciPy/NumPy %.17g", got, c.Normed)
				}
			})
		}
	})
	t.Run("binned", func(t *testing.T) {
		for _, c := range f.Binned {
			t.Run(c.Name, func(t *testing.T) {
				if got := JensenShannon(c.Baseline, c.Current, 2); !within(got, c.JS2, tol) {
					t.Errorf("jensenshannon base 2: got %.17g, SciPy %.17g", got, c.JS2)
				}
				if got := JensenShannon(c.Baseline, c.Current, 0); !within(got, c.JSe, tol) {
					t.Errorf("jensenshannon base e: got %.17g, SciPy %.17g", got, c.JSe)
				}
				if got := PSI(c.Baseline, c.Current); !within(got, c.PSI, tol) {
					t.Errorf("PSI: got %.17g, Evidently's formula %.17g", got, c.PSI)
				}
				if c.Chi2 != nil {
					stat, p := ChiSquareCounts(c.Baseline, c.Current)
					if !within(stat, *c.Chi2, tol) || !within(p, *c.Chi2P, tol) {
						t.Errorf("chisquare: got %.17g p=%.17g, SciPy %.17g p=%.17g", stat, p, *c.Chi2, *c.Chi2P)
					}
				}
			})
		}
	})
	t.Run("ztest", func(t *testing.T) {
		for _, c := range f.ZTest {
			z, p := ZTest(c.K1, c.N1, c.K2, c.N2)
			if !within(z, c.Z, tol) || !within(p, c.PValue, tol) {
				t.Errorf("%d/%d vs %d/%d: got z=%.17g p=%.17g, want z=%.17g p=%.17g", c.K1, c.N1, c.K2, c.N2, z, p, c.Z, c.PValue)
			}
		}
	})
}
