package randomid

import (
	"regexp"
	"testing"
)

func TestNew(t *testing.T) {
	re := regexp.MustCompile(`^cls-[a-z0-9]{8}$`)
	seen := map[string]bool{}
	counts := map[rune]int{}
	for i := 0; i < 2000; i++ {
		id := New("cls-", 8)
		if !re.MatchString(id) {
			t.Fatalf("%q is not cls- and 8 of [a-z0-9]", id)
		}
		if seen[id] {
			t.Fatalf("%q drawn twice in 2000", id)
		}
		seen[id] = true
		for _, c := range id[4:] {
			counts[c]++
		}
	}
	// 16,000 draws over 36 characters: about 444 each. Every character
	// appears, and none is drawn more than twice as often as another would
	// be by chance (a byte modulo 36 favours the first 4 by 8/7 only, so
	// this checks coverage, not the bias itself).
	if len(counts) != len(alphabet) {
		t.Fatalf("only %d of %d characters drawn", len(counts), len(alphabet))
	}
	for c, n := range counts {
		if n < 250 || n > 700 {
			t.Errorf("%q drawn %d times of 16000", c, n)
		}
	}
}
