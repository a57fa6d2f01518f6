// Package suggest finds the closest valid word to a mistyped one, for error
// messages such as "unknown field \"tagret\"; did you mean \"target\"?".
package suggest

import "strings"

// Closest returns the candidate nearest to word by edit distance (case
// insensitive), or "" when none is near enough to be a plausible typo: at
// most a third of word's length in edits (at least 1). A candidate that
// contains word, or that word contains, counts as one edit away when both
// have at least 3 letters. Ties go to the earlier candidate.
func Closest(word string, candidates []string) string {
	w := strings.ToLower(word)
	best, bestDist := "", -1
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := distance(w, lc)
		if len(w) >= 3 && len(lc) >= 3 && (strings.Contains(lc, w) || strings.Contains(w, lc)) && d > 1 {
			d = 1
		}
		limit := max(1, len(w)/3)
		if d > limit {
			continue
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the optimal-string-alignment distance between a and b,
// counting bytes: insertions, deletions, substitutions and swaps of two
// adjacent letters each cost one.
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
