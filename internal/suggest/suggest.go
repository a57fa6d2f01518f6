// Package suggest finds the closest valid word to a mistyped one, for error
// messages such as "unknown field \"tagret\"; did you mean \"target\"?".
package suggest

import "strings"

// Closest returns the candidate nearest to word by edit distance (case
// insensitive), or "" when none is near enough to be a plausible typo: at
// most 2 edits, or a third of the longer word's length when that is more.
// A candidate that word is a prefix of, or that is a prefix of word, counts
// as near. Ties go to the earlier candidate.
func Closest(word string, candidates []string) string {
	w := strings.ToLower(word)
	best, bestDist := "", -1
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := distance(w, lc)
		if len(w) >= 2 && (strings.HasPrefix(lc, w) || strings.HasPrefix(w, lc)) && d > 1 {
			d = 1
		}
		limit := max(2, max(len(w), len(lc))/3)
		if d > limit {
			continue
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b, counting bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
