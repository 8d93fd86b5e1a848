package policy

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestMatchResource(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything/at:all", true},
		{"**", "", true},
		{"a", "a", true},
		{"a", "A", false},
		{"a", "ab", false},
		{"ab", "a", false},
		{"a*", "a", true},
		{"a*", "abc", true},
		{"*c", "abc", true},
		{"*c", "abd", false},
		{"a*c", "ac", true},
		{"a*c", "abbbc", true},
		{"a*c", "abcd", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXcYb", false},
		{"*a*", "bab", true},
		{"*a*", "bbb", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"*ab", "aab", true}, // the star must give back what it took
		{"*aab", "aaab", true},
		{"a*ab*b", "aabb", true},

		// '*' crosses '/', so a trailing '*' covers everything below.
		{"cluster:cls-123/namespace:default/*", "cluster:cls-123/namespace:default/pod:web", true},
		{"cluster:cls-123/namespace:default/*", "cluster:cls-123/namespace:default/pod:web/exec", true},
		{"cluster:cls-123/namespace:default/*", "cluster:cls-123/namespace:defaults/pod:web", false},
		{"cluster:cls-123/namespace:default/*", "cluster:cls-123/namespace:default", false},
		{"cluster:*/namespace:kube-system/*", "cluster:c/namespace:kube-system/secret:s", true},
		{"cluster:*/namespace:kube-system/*", "cluster:c/namespace:default/secret:s", false},
		{"cluster:c/namespace:*/secret:*", "cluster:c/namespace:n/secret:s", true},
		{"cluster:c/namespace:*/secret:*", "cluster:c/namespace:n/configmap:s", false},
		{"cluster:c/*/pod:web", "cluster:c/namespace:n/pod:web", true},
		{"cluster:c/node:*", "cluster:c/node:n1", true},
		{"cluster:C/*", "cluster:c/node:n1", false},
		{"?", "a", false}, // '?' is a literal
		{"[a]", "a", false},
		{"[a]", "[a]", true},
		{`\*`, `\x`, true}, // no escapes: '\' is literal, '*' still a wildcard
		{".*", "abc", false},
		{".*", ".abc", true},
	}
	for _, tt := range tests {
		if got := MatchResource(tt.pattern, tt.value); got != tt.want {
			t.Errorf("MatchResource(%q, %q) = %v, want %v", tt.pattern, tt.value, got, tt.want)
		}
	}
}

func TestMatchAction(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"get*", "getPod", true},
		{"get*", "GetPod", true},
		{"GET*", "getpod", true},
		{"get*", "listPod", false},
		{"*Pod", "deletecollectionPod", true},
		{"*pod", "getPod", true},
		{"*Pod", "getPodLog", false},
		{"*Pod*", "getPodLog", true},
		{"createPodExec", "createpodexec", true},
		{"createPodExec", "createPodAttach", false},
		{"*", "", true},
		{"get*", "get", true},
		{"list*", "lis", false},
		{"*NonResource", "getNonResource", true},
		{"1", "1", true},
	}
	for _, tt := range tests {
		if got := MatchAction(tt.pattern, tt.value); got != tt.want {
			t.Errorf("MatchAction(%q, %q) = %v, want %v", tt.pattern, tt.value, got, tt.want)
		}
	}
}

// Patterns built to make a backtracking matcher explode must stay fast.
func TestMatchIsNotExponential(t *testing.T) {
	pattern := strings.Repeat("a*", 60) + "b"
	value := strings.Repeat("a", 512)
	start := time.Now()
	for range 10 {
		if MatchResource(pattern, value) {
			t.Fatal("matched a value without 'b'")
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("10 matches took %v", d)
	}
	start = time.Now()
	if intersect(pattern, strings.Repeat("a*", 250)+"c", false) {
		t.Error("globs ending in different literals intersect")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("intersect took %v", d)
	}
}

func TestIntersect(t *testing.T) {
	tests := []struct {
		a, b string
		fold bool
		want bool
	}{
		{"", "", false, true},
		{"", "*", false, true},
		{"", "a", false, false},
		{"*", "anything", false, true},
		{"a", "a", false, true},
		{"a", "b", false, false},
		{"a*", "*b", false, true}, // "ab"
		{"a*", "b*", false, false},
		{"*a", "*b", false, false},
		{"a*b", "*c*", false, true}, // "acb"
		{"a*b", "ba*", false, false},
		{"ab*", "*ba", false, true},   // "aba"
		{"a*a", "a", false, false},    // needs two a's
		{"a*a", "a*", false, true},    // "aa"
		{"*ab*", "*ba*", false, true}, // "aba"
		{"get*", "*Pod", false, true},
		{"get*", "list*", false, false},
		{"get*", "GET*", false, false},
		{"get*", "GET*", true, true},
		{"getPod", "*POD", true, true},
		{"cluster:*/namespace:kube-system/*", "cluster:c/*", false, true},
		{"cluster:*/namespace:kube-system/*", "cluster:c/node:n1", false, false},
		// "cluster:c/node:x/namespace:kube-system/y" matches both.
		{"cluster:*/namespace:kube-system/*", "cluster:c/node:*", false, true},
		{"cluster:c/namespace:*/secret:*", "cluster:c/namespace:n/*", false, true},
		{"cluster:c/namespace:*/secret:*", "cluster:d/*", false, false},
	}
	for _, tt := range tests {
		if got := intersect(tt.a, tt.b, tt.fold); got != tt.want {
			t.Errorf("intersect(%q, %q, fold=%v) = %v, want %v", tt.a, tt.b, tt.fold, got, tt.want)
		}
		if got := intersect(tt.b, tt.a, tt.fold); got != tt.want {
			t.Errorf("intersect(%q, %q, fold=%v) = %v, want %v (swapped)", tt.b, tt.a, tt.fold, got, tt.want)
		}
	}
}

// A shortest common match of two globs uses only bytes from their literals
// and is no longer than their literals put together, so over a small
// alphabet an exhaustive search decides intersection exactly. Check every
// pair of globs of up to 4 symbols from {a, b, *} against it.
func TestIntersectExhaustive(t *testing.T) {
	globs := words("ab*", 4)
	samples := words("ab", 8)
	for _, a := range globs {
		for _, b := range globs {
			want := false
			for _, s := range samples {
				if MatchResource(a, s) && MatchResource(b, s) {
					want = true
					break
				}
			}
			if got := intersect(a, b, false); got != want {
				t.Errorf("intersect(%q, %q) = %v, but a search of common matches says %v", a, b, got, want)
			}
		}
	}
}

// words returns every string over alphabet of length 0 to n.
func words(alphabet string, n int) []string {
	out := []string{""}
	level := []string{""}
	for range n {
		var next []string
		for _, w := range level {
			for i := range len(alphabet) {
				next = append(next, w+alphabet[i:i+1])
			}
		}
		out = append(out, next...)
		level = next
	}
	return out
}

// reference is MatchResource written the obvious way, as a regexp.
func reference(t *testing.T, pattern, value string) bool {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	re, err := regexp.Compile(`(?s)\A` + strings.Join(parts, ".*") + `\z`)
	if err != nil {
		t.Fatalf("reference regexp for %q: %v", pattern, err)
	}
	return re.MatchString(value)
}

func FuzzMatchResource(f *testing.F) {
	f.Add("cluster:*/namespace:default/*", "cluster:c/namespace:default/pod:web")
	f.Add("a*b*c", "aXbYc")
	f.Add("*ab", "aab")
	f.Add("a*a", "a")
	f.Add("", "")
	f.Add("**", "\n")
	f.Add(".*+?[](){}|^$\\", ".*+?[](){}|^$\\")
	f.Fuzz(func(t *testing.T, pattern, value string) {
		// regexp reads UTF-8 and turns invalid bytes into U+FFFD, which
		// would make unequal bytes look equal; the byte matcher is right.
		if !utf8.ValidString(pattern) || !utf8.ValidString(value) || len(pattern) > 200 || len(value) > 200 {
			return // outside what the reference can judge: nothing to compare
		}
		if got, want := MatchResource(pattern, value), reference(t, pattern, value); got != want {
			t.Errorf("MatchResource(%q, %q) = %v, regexp says %v", pattern, value, got, want)
		}
	})
}

// intersect must hold whenever a sample matches both globs, and the glob
// matched by a string is the string itself, so intersect(s, s) always holds.
func FuzzIntersect(f *testing.F) {
	f.Add("a*", "*b", "ab")
	f.Add("cluster:*/namespace:kube-system/*", "cluster:c/*", "cluster:c/namespace:kube-system/secret:s")
	f.Add("*ab*", "*ba*", "aba")
	f.Add("get*", "*POD", "getPod")
	f.Fuzz(func(t *testing.T, a, b, sample string) {
		if len(a) > 200 || len(b) > 200 || len(sample) > 200 {
			return // long inputs only slow the fuzzer down
		}
		if MatchResource(a, sample) && MatchResource(b, sample) && !intersect(a, b, false) {
			t.Errorf("%q matches both %q and %q, but intersect says no", sample, a, b)
		}
		if MatchAction(a, sample) && MatchAction(b, sample) && !intersect(a, b, true) {
			t.Errorf("%q matches both %q and %q ignoring case, but intersect says no", sample, a, b)
		}
		if intersect(a, b, false) != intersect(b, a, false) {
			t.Errorf("intersect(%q, %q) is not symmetric", a, b)
		}
		if !intersect(a, a, false) {
			t.Errorf("intersect(%q, %q) is false", a, a)
		}
		if !MatchResource(a, a) {
			t.Errorf("MatchResource(%q, %q) is false: a glob must match itself taken literally", a, a)
		}
	})
}
