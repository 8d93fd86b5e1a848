package apigroup

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kstack/kstack/internal/auth/directory"
)

type group struct {
	info   Info
	res    []Resource
	routes []Route
}

func (g group) Info() Info                               { return g.info }
func (g group) Resources() []Resource                    { return g.res }
func (g group) Admit(context.Context, *Request) error    { return nil }
func (g group) Validate(context.Context, *Request) error { return nil }
func (g group) Routes() []Route                          { return g.routes }
func (g group) Indexes() []Index                         { return nil }
func (g group) Controllers() []Controller                { return []Controller{{Name: g.info.Prefix[1:]}} }

func TestRegistry(t *testing.T) {
	var served []string
	h := func(name string) Handler {
		return func(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
			served = append(served, name+" "+r.PathValue("x")+" "+p.Username)
		}
	}
	reg, err := NewRegistry(
		group{info: Info{Group: "a.example.io", Prefix: "/a", ClusterHeader: true},
			res:    []Resource{{Kind: "thing", TenantScoped: true}, {Kind: "hash", Hidden: "never"}},
			routes: []Route{{Pattern: "POST /a/things/{x}/act", Handler: h("act")}}},
		group{info: Info{Group: "b.example.io", Prefix: "/b"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if info, rest, ok := reg.Prefix("/a/apis/a.example.io/v1/things"); !ok || info.Group != "a.example.io" || rest != "/apis/a.example.io/v1/things" {
		t.Fatalf("prefix: %v %q %v", info, rest, ok)
	}
	if info, rest, ok := reg.Prefix("/b"); !ok || info.Group != "b.example.io" || rest != "" {
		t.Fatalf("bare prefix: %v %q %v", info, rest, ok)
	}
	if _, _, ok := reg.Prefix("/ab/x"); ok {
		t.Fatal("/ab matched the prefix /a")
	}
	if res, m, ok := reg.Resource("a.example.io", "thing"); !ok || m == nil || !res.TenantScoped || res.Version != "v1" {
		t.Fatalf("declared kind: %+v %v", res, ok)
	}
	// A kind the group does not declare is served with no special rules;
	// the same kind name in another group does not take the first's.
	if res, _, ok := reg.Resource("b.example.io", "thing"); !ok || res.TenantScoped {
		t.Fatalf("undeclared kind of another group: %+v %v", res, ok)
	}
	if _, _, ok := reg.Resource("c.example.io", "thing"); ok || reg.Served("c.example.io") {
		t.Fatal("an unknown group is served")
	}
	if reg.Hidden("a.example.io", "hash") != "never" || reg.Hidden("b.example.io", "hash") != "" {
		t.Fatal("hidden kinds keyed without their group")
	}
	if names(reg.Controllers()) != "a,b" || strings.Join(reg.Names(), ",") != "a.example.io,b.example.io" {
		t.Fatalf("controllers %q, names %v", names(reg.Controllers()), reg.Names())
	}
	p := &directory.Principal{Username: "alice"}
	if !reg.ServeRoute(httptest.NewRecorder(), httptest.NewRequest("POST", "/a/things/t1/act", nil), p) {
		t.Fatal("the action was not served")
	}
	// Another method on the same path is not the route's: the API answers it.
	if reg.ServeRoute(httptest.NewRecorder(), httptest.NewRequest("GET", "/a/things/t1/act", nil), p) {
		t.Fatal("GET was taken by a POST route")
	}
	if reg.ServeRoute(httptest.NewRecorder(), httptest.NewRequest("POST", "/a/things/t1", nil), p) {
		t.Fatal("a shorter path was taken by the route")
	}
	if strings.Join(served, ";") != "act t1 alice" {
		t.Fatalf("served %q", served)
	}
}

func TestRegistryRefuses(t *testing.T) {
	for name, mods := range map[string][]Module{
		"no prefix":        {group{info: Info{Group: "a.example.io"}}},
		"trailing slash":   {group{info: Info{Group: "a.example.io", Prefix: "/a/"}}},
		"one prefix twice": {group{info: Info{Group: "a.example.io", Prefix: "/a"}}, group{info: Info{Group: "b.example.io", Prefix: "/a"}}},
		"kind twice":       {group{info: Info{Group: "a.example.io", Prefix: "/a"}, res: []Resource{{Kind: "x"}, {Kind: "x"}}}},
		"bad pattern":      {group{info: Info{Group: "a.example.io", Prefix: "/a"}, routes: []Route{{Pattern: "GET /a/{", Handler: nil}}}},
	} {
		if _, err := NewRegistry(mods...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, Invalid("field %s is wrong", "x"))
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), `"reason":"Invalid"`) || !strings.Contains(rec.Body.String(), "field x is wrong") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	WriteError(rec, context.DeadlineExceeded)
	if rec.Code != 500 {
		t.Fatalf("a plain error: %d", rec.Code)
	}
}
