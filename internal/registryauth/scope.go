package registryauth

import (
	"fmt"
	"regexp"
	"strings"
)

// maxScopes bounds one token request: each scope costs a few decisions.
const maxScopes = 32

// scope is one requested "type:name:actions" of the Docker token spec.
type scope struct {
	Type    string // "repository", "registry", or a type with a class ("repository(plugin)")
	Name    string
	Actions []string
}

var (
	// resourceType is the spec's resourcetype: a value and an optional class.
	resourceType = regexp.MustCompile(`^[a-z0-9]+(\([a-z0-9]+\))?$`)
	// repoPath is distribution's repository path (reference.NameRegexp
	// without a domain): components of lowercase alphanumerics joined by
	// '.', '_', '__' or dashes, separated by '/'.
	repoPath = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*$`)
	action   = regexp.MustCompile(`^([a-z]+|\*)$`)
)

// parseScopes reads the scope parameters: each may hold several scopes
// separated by spaces (the OAuth2 form joins them so). Errors say which
// scope is malformed and how a good one looks.
func parseScopes(raw []string) ([]scope, error) {
	var out []scope
	for _, r := range raw {
		for _, s := range strings.Fields(r) {
			if len(out) == maxScopes {
				return nil, fmt.Errorf("the request names more than %d scopes: ask for fewer at a time", maxScopes)
			}
			sc, err := parseScope(s)
			if err != nil {
				return nil, err
			}
			out = append(out, sc)
		}
	}
	return out, nil
}

func parseScope(s string) (scope, error) {
	bad := func(why string) error {
		return fmt.Errorf("scope %q is malformed (%s): a scope is type:name:actions, for example repository:team/web:pull,push", clip(s), why)
	}
	if len(s) > 512 {
		return scope{}, bad("longer than 512 characters")
	}
	first, last := strings.Index(s, ":"), strings.LastIndex(s, ":")
	if first < 0 || first == last {
		return scope{}, bad("it needs two colons")
	}
	sc := scope{Type: s[:first], Name: s[first+1 : last]}
	if !resourceType.MatchString(sc.Type) {
		return scope{}, bad("the type must be lowercase letters and digits, such as repository")
	}
	if sc.Name == "" {
		return scope{}, bad("the name is empty")
	}
	if sc.Type == "repository" && (len(sc.Name) > 255 || !repoPath.MatchString(sc.Name)) {
		return scope{}, fmt.Errorf("scope %q names an invalid repository %q: a repository is <namespace>/<name>, lowercase letters, digits and . _ - separators, components joined by /", clip(s), clip(sc.Name))
	}
	acts := s[last+1:]
	if acts == "" {
		return scope{}, bad("it names no action")
	}
	for _, a := range strings.Split(acts, ",") {
		if !action.MatchString(a) {
			return scope{}, bad(fmt.Sprintf("action %q is not a word such as pull, push, delete or *", clip(a)))
		}
		sc.Actions = append(sc.Actions, a)
	}
	return sc, nil
}

// clip keeps a quoted input short in messages.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
