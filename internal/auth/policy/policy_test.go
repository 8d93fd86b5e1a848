package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStatementJSON(t *testing.T) {
	const in = `{"actions":["get*","list*"],"resources":["cluster:cls-123/namespace:default/*"],"effect":"allow"}`
	var s Statement
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("round trip:\n got %s\nwant %s", out, in)
	}
}

func TestStatementValidate(t *testing.T) {
	ok := func(mod func(*Statement)) Statement {
		s := Statement{Actions: []string{"get*"}, Resources: []string{"cluster:cls-1/*"}, Effect: Allow}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	tests := []struct {
		name    string
		s       Statement
		wantErr string // empty: valid
	}{
		{"minimal allow", ok(nil), ""},
		{"deny", ok(func(s *Statement) { s.Effect = Deny }), ""},
		{"star action", ok(func(s *Statement) { s.Actions = []string{"*"} }), ""},
		{"camel action", ok(func(s *Statement) { s.Actions = []string{"createPodExec", "get*", "list*", "v1Get"} }), ""},
		{"star resource", ok(func(s *Statement) { s.Resources = []string{"*"} }), ""},
		{"punctuated resource", ok(func(s *Statement) { s.Resources = []string{"cluster:c/url:/openapi/v3?x=1&y=~"} }), ""},
		{"longest action", ok(func(s *Statement) { s.Actions = []string{strings.Repeat("a", 128)} }), ""},
		{"longest resource", ok(func(s *Statement) { s.Resources = []string{strings.Repeat("r", 512)} }), ""},

		{"no actions", ok(func(s *Statement) { s.Actions = nil }), "actions is empty"},
		{"empty action list", ok(func(s *Statement) { s.Actions = []string{} }), "actions is empty"},
		{"empty action", ok(func(s *Statement) { s.Actions = []string{"get*", ""} }), "an action is empty"},
		{"action with dash", ok(func(s *Statement) { s.Actions = []string{"get-pod"} }), `action "get-pod" may contain only letters, digits and '*'`},
		{"action with space", ok(func(s *Statement) { s.Actions = []string{"get pod"} }), `found ' '`},
		{"action with colon", ok(func(s *Statement) { s.Actions = []string{"pod:get"} }), `found ':'`},
		{"action with question mark", ok(func(s *Statement) { s.Actions = []string{"get?"} }), `found '?'`},
		{"action non-ASCII", ok(func(s *Statement) { s.Actions = []string{"getPöd"} }), "may contain only letters"},
		{"action too long", ok(func(s *Statement) { s.Actions = []string{strings.Repeat("a", 129)} }), "is 129 characters long; the limit is 128"},

		{"no resources", ok(func(s *Statement) { s.Resources = nil }), "resources is empty"},
		{"empty resource", ok(func(s *Statement) { s.Resources = []string{""} }), "a resource is empty"},
		{"resource with space", ok(func(s *Statement) { s.Resources = []string{"cluster:c/pod:a b"} }), "at byte 16"},
		{"resource with tab", ok(func(s *Statement) { s.Resources = []string{"cluster:c\t"} }), "non-printable"},
		{"resource with newline", ok(func(s *Statement) { s.Resources = []string{"cluster:c\n"} }), "non-printable"},
		{"resource with DEL", ok(func(s *Statement) { s.Resources = []string{"cluster:c\x7f"} }), "non-printable"},
		{"resource non-ASCII", ok(func(s *Statement) { s.Resources = []string{"cluster:ç"} }), "non-printable"},
		{"resource too long", ok(func(s *Statement) { s.Resources = []string{strings.Repeat("r", 513)} }), "is 513 characters long; the limit is 512"},

		{"no effect", ok(func(s *Statement) { s.Effect = "" }), `effect is missing: set it to "allow" or "deny"`},
		{"wrong effect", ok(func(s *Statement) { s.Effect = "permit" }), `effect must be "allow" or "deny", got "permit"`},
		{"capitalised effect", ok(func(s *Statement) { s.Effect = "Allow" }), `got "Allow"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestValidateStatements(t *testing.T) {
	good := Statement{Actions: []string{"get*"}, Resources: []string{"*"}, Effect: Allow}
	many := func(n int) []Statement {
		st := make([]Statement, n)
		for i := range st {
			st[i] = good
		}
		return st
	}
	tests := []struct {
		name    string
		st      []Statement
		wantErr string
	}{
		{"one", many(1), ""},
		{"hundred", many(100), ""},
		{"none", nil, "at least one statement"},
		{"too many", many(101), "at most 100 statements, got 101"},
		{"second bad", append(many(1), Statement{Actions: []string{"get*"}, Resources: []string{"*"}, Effect: "permit"}),
			`statement 2: effect must be "allow" or "deny", got "permit"`},
		{"first of two bad", []Statement{{Effect: Allow}, {Effect: "x"}}, "statement 1: actions is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, ValidateStatements(tt.st), tt.wantErr)
		})
	}
}

func TestShortCutsLongValues(t *testing.T) {
	err := Statement{Actions: []string{strings.Repeat("x", 127) + "-"}, Resources: []string{"*"}, Effect: Allow}.Validate()
	if err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), `xxx"...`) {
		t.Errorf("want a short error naming the action, got %v", err)
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Errorf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not contain %q", err, want)
	}
}
