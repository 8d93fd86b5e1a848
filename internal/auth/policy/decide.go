package policy

import "fmt"

// Named is a policy's statements with the policy's name, so that decisions
// can say which policy decided.
type Named struct {
	Name       string
	Statements []Statement
}

// Request is what is being asked for: an action such as "getPod" on a
// resource such as "cluster:cls-1/namespace:default/pod:web".
type Request struct {
	Action, Resource string
}

// Decision is the outcome of Decide, with a reason fit to show the caller.
type Decision struct {
	Allowed bool
	Reason  string
}

// Decide allows r when some allow statement matches it and no deny statement
// does: an explicit deny beats any allow, and nothing matching means deny.
//
// A statement whose effect is neither "allow" nor "deny" (which Validate
// refuses) is taken as a deny, so that a mistyped effect fails closed.
func Decide(policies []Named, r Request) Decision {
	var allowedBy *Named
	for i := range policies {
		p := &policies[i]
		for _, s := range p.Statements {
			if !s.matches(r) {
				continue
			}
			if s.Effect != Allow {
				return Decision{Reason: fmt.Sprintf("policy %q denies %s on %s", p.Name, r.Action, r.Resource)}
			}
			if allowedBy == nil {
				allowedBy = p
			}
		}
	}
	if allowedBy == nil {
		return Decision{Reason: fmt.Sprintf("no policy allows %s on %s", r.Action, r.Resource)}
	}
	return Decision{Allowed: true, Reason: fmt.Sprintf("policy %q allows %s on %s", allowedBy.Name, r.Action, r.Resource)}
}

func (s Statement) matches(r Request) bool {
	return anyMatch(s.Actions, r.Action, MatchAction) && anyMatch(s.Resources, r.Resource, MatchResource)
}

func anyMatch(patterns []string, v string, m func(pattern, v string) bool) bool {
	for _, p := range patterns {
		if m(p, v) {
			return true
		}
	}
	return false
}

// Covers returns nil when held allows everything that the allow statements
// of wanted would grant, so that a user cannot grant more than they hold.
//
// Each (action pattern, resource pattern) pair of each allow statement in
// wanted must be matched, taken literally, by one allow statement of held
// ("get*" covers "getPod" and "get*"; "getPod" does not cover "get*"). That
// suffices: a pattern matching a glob literally must absorb each of its '*'
// in one of its own, so it matches every string the glob matches. And no
// deny statement of held may deny any part of the pair (its globs intersect
// both of the pair's), since a holder cannot pass on what is denied to them.
// Deny statements in wanted only take rights away and are always fine.
//
// The error names the first pair that is not covered.
func Covers(held []Named, wanted []Statement) error {
	for _, w := range wanted {
		if w.Effect != Allow {
			continue
		}
		for _, a := range w.Actions {
			for _, r := range w.Resources {
				if err := covers(held, a, r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func covers(held []Named, action, resource string) error {
	allowed := false
	for _, p := range held {
		for _, s := range p.Statements {
			if s.Effect != Allow {
				if s.denies(action, resource) {
					return fmt.Errorf("you may not grant %q on %q: your policy %q denies part of it", action, resource, p.Name)
				}
				continue
			}
			if !allowed && s.matches(Request{Action: action, Resource: resource}) {
				allowed = true
			}
		}
	}
	if !allowed {
		return fmt.Errorf("you may not grant %q on %q: your own policies do not allow it", action, resource)
	}
	return nil
}

// denies reports whether the deny statement s denies some (action, resource)
// that the globs action and resource both allow.
func (s Statement) denies(action, resource string) bool {
	return anyIntersect(s.Actions, action, true) && anyIntersect(s.Resources, resource, false)
}

func anyIntersect(patterns []string, glob string, fold bool) bool {
	for _, p := range patterns {
		if intersect(p, glob, fold) {
			return true
		}
	}
	return false
}
