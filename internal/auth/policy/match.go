package policy

// Globs here have one metacharacter, '*', which matches any run of bytes,
// '/' included; every other byte stands for itself. There is no escape, so a
// pattern cannot ask for a literal '*'.

// MatchAction reports whether the glob pattern matches action, ignoring ASCII
// case: "get*" matches "getPod" and "GetPod". Actions are ASCII, so ASCII
// folding is the whole of it.
func MatchAction(pattern, action string) bool {
	return match(pattern, action, true)
}

// MatchResource reports whether the glob pattern matches resource, case
// sensitively: Kubernetes names are case sensitive.
func MatchResource(pattern, resource string) bool {
	return match(pattern, resource, false)
}

// match is the greedy two-pointer wildcard match: on a mismatch it returns
// to the last '*' and lets it swallow one more byte. Only the last '*' needs
// remembering (an earlier one can never do better), so the cost is at most
// len(pattern)*len(s) steps, never exponential.
func match(pattern, s string, fold bool) bool {
	p, i := 0, 0
	star, mark := -1, 0 // last '*' seen in pattern, and where in s it began
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && same(pattern[p], s[i], fold):
			p++
			i++
		case star >= 0:
			mark++
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func same(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	return fold && lower(a) == lower(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// intersect reports whether some string matches both globs a and b.
//
// ok[i][j] says whether a[i:] and b[j:] have a common match. When a[i] is
// '*' a shortest common match lets it either end here (i+1, j) or take
// exactly what b[j] gives: one byte if b[j] is a literal, nothing more than
// b's own '*' otherwise (i, j+1); the same holds with a and b swapped. Two
// literals must agree. Filling the table from the ends is the memoised form
// of that recursion, in O(len(a)*len(b)) time.
func intersect(a, b string, fold bool) bool {
	// Row i needs only row i+1, so two rows of the table suffice.
	next := make([]bool, len(b)+1) // row i+1
	cur := make([]bool, len(b)+1)  // row i
	for i := len(a); i >= 0; i-- {
		for j := len(b); j >= 0; j-- {
			var v bool
			switch {
			case i == len(a) && j == len(b):
				v = true
			case i < len(a) && a[i] == '*':
				v = next[j] || (j < len(b) && cur[j+1])
			case j < len(b) && b[j] == '*':
				v = cur[j+1] || (i < len(a) && next[j])
			case i < len(a) && j < len(b):
				v = same(a[i], b[j], fold) && next[j+1]
			}
			cur[j] = v
		}
		next, cur = cur, next
	}
	return next[0]
}
