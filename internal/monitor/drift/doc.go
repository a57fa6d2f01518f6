// Package drift measures data drift of one feature or a whole table: exact
// metrics on raw samples, the same figures from stored profiles
// (dataset.Profile), and per-feature verdicts against thresholds. It is pure
// computation: no I/O, no clock, safe for concurrent use.
//
// # Exact metrics on raw samples
//
// Each equals SciPy 1.10.1 on the same inputs within 1e-9
// (TestSciPyParity, fixture from testdata/gen_scipy.py):
//
//   - KS2Samp is scipy.stats.ks_2samp (two-sided, method 'auto'): exact
//     p-values when both samples have at most 10,000 values (Hodges'
//     lattice paths, SciPy's n1 = n2 formula or Viehmann's 1−p recursion;
//     the statistic is rounded to h/lcm(n1, n2) as SciPy rounds it), falling
//     back to the asymptotic method when the exact one is not finite;
//     otherwise asymp, kstwo.sf(D, round(n1·n2/(n1+n2))) with SciPy's choice
//     among Ruben–Gambino, the exact Smirnov sum, the Durbin matrix and
//     Pelz–Good (the Durbin matrix stands in for Pomeranz's recursion, which
//     computes the same exact probability).
//   - Wasserstein is scipy.stats.wasserstein_distance; WassersteinNorm is
//     Evidently's normalized form, divided by max(σ, 0.001), σ the
//     baseline's population standard deviation (numpy.std), as
//     evidently/legacy/calculations/stattests/wasserstein_distance_norm.py.
//   - JensenShannon is scipy.spatial.distance.jensenshannon with base 2 or e.
//   - ChiSquare is scipy.stats.chisquare; ChiSquareCounts scales the
//     baseline's counts to the current total as Evidently's chisquare test.
//   - PSI is Evidently's (psi.py with get_binned_data's zero fill: a share of
//     0 becomes m/10⁶ when the smallest non-zero share m ≤ 0.0001, else
//     0.0001, per side); ZTest is Evidently's z_stattest.py; Bonferroni
//     divides the significance level by the number of tests.
//
// # Figures from profiles
//
// Drift over any range is computed from stored, merged profiles, never from
// raw rows. Numeric columns: the distribution function is known exactly at
// the quantile sketch's bucket bounds (relative width 2%), the histogram's
// edges (the baseline's 20 bins), the minimum and the maximum; between
// these knots it is taken as linear. Wasserstein (∫|F−G|) and the KS
// statistic (sup |F−G|) come from these piecewise-linear CDFs; the baseline's
// σ is exact from the profile's M2. Measured against the exact figures on the
// same data (TestProfileAccuracySeeded, TestProfileAccuracyFlights):
//
//   - normalized Wasserstein: at most 0.0016 absolute on seeded samples
//     (normal, lognormal, integer ties, a large offset, zeros and negatives,
//     heavy tails; 30,000–40,000 values), at most 0.00005 on the flights'
//     delay and distance (January against each later month); the tests bound
//     it by 0.005, a twentieth of the default threshold 0.1.
//   - KS statistic: at most 0.0033 on the seeded samples, 0.00012 on
//     flights; bound 0.01.
//
// No default verdict changed on either. Binned metrics (Jensen–Shannon, PSI,
// chi-square) use the profiles' counts, which are exact, on the baseline's
// bins: [below, 20 histogram bins, above] for numeric columns, the baseline's
// top categories plus "other" for categorical ones. They equal the exact
// figure for that binning. Lumping rare categories into "other" can only
// lower Jensen–Shannon (it is an f-divergence): on flights' origin and
// destination, JS over all ~225 airports was 0.010–0.037 and from the top 50
// + other 0.005–0.014, all far below 0.1.
//
// # Verdicts
//
// Compare and CompareProfiles apply a Metric per feature; the defaults are
// Evidently's and Azure ML's: numeric → normalized Wasserstein ≥ 0.1,
// categorical → Jensen–Shannon distance ≥ 0.1 (base e as Evidently; set
// LogBase 2 for Azure ML). Tests (KS, chi-square, Z) drift when p < the
// threshold, optionally Bonferroni-corrected over the features tested.
// Evidently's chi-square tests the current counts against the baseline's as
// if the baseline were exact, so between two samples of similar size it
// flags far more than its level (97–99% of random halves of one month for
// the ~225 airports); it is not a default for that reason.
package drift
