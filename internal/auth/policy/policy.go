// Package policy holds access policies in the TKEStack style: statements
// that allow or deny actions (e.g. "get*") on resources (e.g.
// "cluster:cls-1/namespace:default/*"), matched with '*' globs, and the
// decisions taken from them.
package policy

import (
	"errors"
	"fmt"
	"strconv"
)

// Effect is what a statement does to the requests it matches.
type Effect string

const (
	Allow Effect = "allow"
	Deny  Effect = "deny"
)

// Statement allows or denies every action in Actions on every resource in
// Resources. Both lists are globs where '*' matches any run of characters.
type Statement struct {
	Actions   []string `json:"actions"`
	Resources []string `json:"resources"`
	Effect    Effect   `json:"effect"`
}

// Limits on sizes, so that stored policies and the work of matching them stay
// bounded.
const (
	MaxStatements     = 100
	MaxActionLength   = 128
	MaxResourceLength = 512
)

// Validate checks one statement: actions, resources and effect are required,
// effect is "allow" or "deny", an action has only letters, digits and '*'
// (1-128 characters), a resource is 1-512 printable ASCII characters without
// spaces.
func (s Statement) Validate() error {
	if len(s.Actions) == 0 {
		return errors.New(`actions is empty: list at least one action, e.g. "get*" or "createPodExec"`)
	}
	for _, a := range s.Actions {
		if err := validateAction(a); err != nil {
			return err
		}
	}
	if len(s.Resources) == 0 {
		return errors.New(`resources is empty: list at least one resource, e.g. "cluster:cls-1/namespace:default/*"`)
	}
	for _, r := range s.Resources {
		if err := validateResource(r); err != nil {
			return err
		}
	}
	switch s.Effect {
	case Allow, Deny:
		return nil
	case "":
		return errors.New(`effect is missing: set it to "allow" or "deny"`)
	default:
		return fmt.Errorf("effect must be %q or %q, got %s", Allow, Deny, short(string(s.Effect)))
	}
}

// ValidateStatements checks a policy's statements: at least one, at most
// MaxStatements, each valid. Errors number statements from 1.
func ValidateStatements(st []Statement) error {
	if len(st) == 0 {
		return errors.New("a policy needs at least one statement")
	}
	if len(st) > MaxStatements {
		return fmt.Errorf("a policy may have at most %d statements, got %d: split it into several policies", MaxStatements, len(st))
	}
	for i, s := range st {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("statement %d: %w", i+1, err)
		}
	}
	return nil
}

func validateAction(a string) error {
	if a == "" {
		return errors.New(`an action is empty: remove it or write one such as "get*"`)
	}
	if len(a) > MaxActionLength {
		return fmt.Errorf("action %s is %d characters long; the limit is %d", short(a), len(a), MaxActionLength)
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if c != '*' && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') && !('0' <= c && c <= '9') {
			return fmt.Errorf(`action %s may contain only letters, digits and '*' (e.g. "get*", "createPodExec"), found %s`,
				short(a), strconv.QuoteRune(rune(c)))
		}
	}
	return nil
}

func validateResource(r string) error {
	if r == "" {
		return errors.New(`a resource is empty: remove it or write one such as "cluster:cls-1/*"`)
	}
	if len(r) > MaxResourceLength {
		return fmt.Errorf("resource %s is %d characters long; the limit is %d", short(r), len(r), MaxResourceLength)
	}
	for i := 0; i < len(r); i++ {
		// Printable ASCII without the space: anything else could not come
		// from a request's resource string and would only hide typos.
		if c := r[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("resource %s has a space or a non-printable character at byte %d: use printable ASCII without spaces, e.g. %q",
				short(r), i+1, "cluster:cls-1/namespace:default/*")
		}
	}
	return nil
}

// short quotes s for an error message, cut to a readable length.
func short(s string) string {
	const max = 60
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
