package registryapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/apigroup/apigrouptest"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/platformscheme"
)

const (
	prjA = "prj-aaaaaaaa" // pa administers it, pm is a member, pv reads it
	prjB = "prj-bbbbbbbb" // pb administers it
	prjO = "prj-oooooooo" // tenant other; oa administers it
	host = "reg.example:8443"
)

var (
	admin  = &directory.Principal{Username: "admin", Tenant: "default", SuperAdmin: true}
	tu     = &directory.Principal{Username: "tu", Tenant: "default"} // platform user
	pa     = &directory.Principal{Username: "pa", Tenant: "default"}
	pm     = &directory.Principal{Username: "pm", Tenant: "default"}
	pv     = &directory.Principal{Username: "pv", Tenant: "default"}
	pb     = &directory.Principal{Username: "pb", Tenant: "default"}
	one    = &directory.Principal{Username: "one", Tenant: "default"} // pulls team-a/web only
	nobody = &directory.Principal{Username: "nobody", Tenant: "default"}
	oa     = &directory.Principal{Username: "oa", Tenant: "other"} // platform user of tenant other
)

var errMissing = errors.New("not found in the registry")

// store is a registry of repositories ("ns/name") and their tags.
type store struct {
	mu      sync.Mutex
	repos   map[string][]registryv1.Tag
	fail    error // every call fails with it
	deleted []string
}

func newStore() *store {
	at := metav1.NewTime(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	tag := func(name string, size int64) registryv1.Tag {
		return registryv1.Tag{Name: name, Digest: "sha256:" + strings.Repeat(name[len(name)-1:], 64), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: size, PushedAt: &at}
	}
	return &store{repos: map[string][]registryv1.Tag{
		"team-a/web":       {tag("v1", 100), tag("v2", 150)},
		"team-a/tools/cli": {tag("v1", 10)},
		"pub/base":         {tag("v1", 5)},
		"theirs/secret":    {tag("v1", 7)},
	}}
}

func (s *store) Repositories(_ context.Context, ns string) ([]registryv1.Repository, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []registryv1.Repository
	for full, tags := range s.repos {
		name, ok := strings.CutPrefix(full, ns+"/")
		if !ok {
			continue
		}
		r := registryv1.Repository{Name: name, Namespace: ns, Tags: len(tags)}
		for _, t := range tags {
			r.Size += t.Size
			r.PushedAt = t.PushedAt
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name > out[j].Name }) // the module sorts
	return out, nil
}

func (s *store) Tags(_ context.Context, repo string) ([]registryv1.Tag, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	tags, ok := s.repos[repo]
	if !ok {
		return nil, fmt.Errorf("repository %s: %w", repo, errMissing)
	}
	return slices.Clone(tags), nil
}

func (s *store) DeleteTag(_ context.Context, repo, tag string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	tags := s.repos[repo]
	i := slices.IndexFunc(tags, func(t registryv1.Tag) bool { return t.Name == tag })
	if i < 0 {
		return fmt.Errorf("tag %s:%s: %w", repo, tag, errMissing)
	}
	s.repos[repo] = slices.Delete(tags, i, i+1)
	s.deleted = append(s.deleted, repo+":"+tag)
	return nil
}

func (s *store) DeleteRepository(_ context.Context, repo string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if _, ok := s.repos[repo]; !ok {
		return fmt.Errorf("repository %s: %w", repo, errMissing)
	}
	delete(s.repos, repo)
	s.deleted = append(s.deleted, repo)
	return nil
}

func (s *store) DeleteNamespace(_ context.Context, ns string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for full := range s.repos {
		if strings.HasPrefix(full, ns+"/") {
			delete(s.repos, full)
			s.deleted = append(s.deleted, full)
		}
	}
	return nil
}

func (s *store) GC(context.Context) (registryv1.GCResult, error) {
	if s.fail != nil {
		return registryv1.GCResult{}, s.fail
	}
	return registryv1.GCResult{Marked: 4, Deleted: 1, DeletedBytes: 42}, nil
}

// rotator records the projects rotated.
type rotator struct{ rotated []string }

func (r *rotator) Rotate(_ context.Context, project string) (registryv1.PullCredentialStatus, error) {
	r.rotated = append(r.rotated, project)
	return registryv1.PullCredentialStatus{Project: project, Username: "kstack-pull-" + project, RotatedAt: metav1.Now()}, nil
}

func label(tenant string) map[string]string { return map[string]string{authv1.LabelTenant: tenant} }

func regNS(name, tenant string, vis registryv1.Visibility, projects ...string) *registryv1.RegistryNamespace {
	return &registryv1.RegistryNamespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: label(tenant)},
		Spec: registryv1.RegistryNamespaceSpec{TenantID: tenant, Visibility: vis, Projects: projects}}
}

// module is the group over a fake client with the predefined policies,
// the projects and callers above, and registry namespaces team-a (private,
// shared with prjA), pub (public), of the default tenant, and theirs
// (private) and theirs-pub (public) of tenant other.
func module(t *testing.T) (*Module, *store, *rotator, client.Client) {
	t.Helper()
	project := func(name, tenant string) *businessv1.Project {
		return &businessv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: label(tenant)}, Spec: businessv1.ProjectSpec{TenantID: tenant}}
	}
	bind := func(name, tenant, policy, user, project string) *authv1.PolicyBinding {
		return &authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: label(tenant)},
			Spec: authv1.PolicyBindingSpec{TenantID: tenant, PolicyName: policy, Users: []string{user}, ProjectID: project}}
	}
	objs := []client.Object{
		project(prjA, "default"), project(prjB, "default"), project(prjO, "other"),
		bind("tu", "default", directory.PolicyPlatformUser, "tu", ""),
		bind("pa", "default", directory.PolicyProjectAdmin, "pa", prjA),
		bind("pm", "default", directory.PolicyProjectMember, "pm", prjA),
		bind("pv", "default", directory.PolicyProjectViewer, "pv", prjA),
		bind("pb", "default", directory.PolicyProjectAdmin, "pb", prjB),
		bind("oa", "other", directory.PolicyPlatformUser, "oa", ""),
		bind("one", "default", "pull-web", "one", ""),
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "pull-web", Labels: label("default")},
			Spec: authv1.PolicySpec{TenantID: "default", Scope: authv1.ScopePlatform,
				Statements: []authv1.Statement{{Effect: "allow", Actions: []string{ActionPull}, Resources: []string{"registrynamespace:team-a/repository:web"}}}}},
		regNS("team-a", "default", registryv1.Private, prjA),
		regNS("pub", "default", registryv1.Public),
		regNS("theirs", "other", registryv1.Private, prjO),
		regNS("theirs-pub", "other", registryv1.Public),
		&authv1.IdentityProvider{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Spec: authv1.IdentityProviderSpec{Type: authv1.IdentityProviderOIDC}},
	}
	c := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(objs...).
		WithStatusSubresource(&registryv1.RegistryNamespace{}).Build()
	if err := directory.EnsurePredefined(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	st, rot := newStore(), &rotator{}
	env := apigroup.Env{Client: c, Reader: c, Decider: &decision.Decider{Dir: &directory.Directory{Client: c}}, SystemNamespace: "kstack-system"}
	return &Module{Env: env, Store: st, ErrNotFound: errMissing, Pull: rot, RegistryHost: host}, st, rot, c
}

func attr(verb, name string) attributes.Attributes {
	res := Kind + ":" + name
	if name == "" {
		res = Kind + ":*"
	}
	return attributes.Attributes{Verb: verb, APIGroup: Group, Kind: Kind, Name: name, Action: verb + "Registrynamespace", Resource: res}
}

// validate runs Validate on ns as a create, or as an update of old.
func validate(t *testing.T, m *Module, p *directory.Principal, ns, old *registryv1.RegistryNamespace) error {
	t.Helper()
	r := &apigroup.Request{Principal: p, Attributes: attr("create", ns.Name), Object: apigrouptest.Unstructured(t, ns)}
	if old != nil {
		r.Attributes = attr("update", ns.Name)
		r.Old = apigrouptest.Unstructured(t, old)
	}
	return m.Validate(context.Background(), r)
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
	}{
		{"team-a", ""}, {"a1", ""}, {"team.web", ""}, {"0a-b.c", ""}, {strings.Repeat("a", 63), ""},
		{"", "name the registry namespace"},
		{"a", "2 to 63"}, {strings.Repeat("a", 64), "2 to 63"},
		{"Team", "e.g. team-a"}, {"team_a", "without '_'"}, {"-team", "2 to 63"}, {"team-", "2 to 63"},
		{"team--a", "2 to 63"}, {"team..a", "2 to 63"}, {"team/a", "2 to 63"}, {"tëam", "2 to 63"},
		{"v2", "reserved"}, {"kstack-pull-x", "reserved"},
	} {
		err := CheckName(tc.name)
		if tc.msg == "" {
			apigrouptest.CheckRefusal(t, err, 0, "")
			continue
		}
		apigrouptest.CheckRefusal(t, err, http.StatusUnprocessableEntity, tc.msg)
	}
}

func TestValidate(t *testing.T) {
	m, _, _, _ := module(t)
	for _, tc := range []struct {
		what string
		p    *directory.Principal
		ns   *registryv1.RegistryNamespace
		old  *registryv1.RegistryNamespace
		code int
		msg  string
	}{
		{"a private namespace", tu, regNS("new-ns", "default", registryv1.Private), nil, 0, ""},
		{"no visibility (the CRD's default)", tu, regNS("new-ns", "default", ""), nil, 0, ""},
		{"shared with a project of the tenant", tu, regNS("new-ns", "default", registryv1.Public, prjA, prjB), nil, 0, ""},
		{"shared by its member", pm, regNS("new-ns", "default", registryv1.Private, prjA), nil, 0, ""},
		{"by an administrator", admin, regNS("new-ns", "other", registryv1.Private, prjO), nil, 0, ""},
		{"a bad name", tu, regNS("New_NS", "default", registryv1.Private), nil, 422, "is not a registry namespace name"},
		{"a bad visibility", tu, regNS("new-ns", "default", "Internal"), nil, 422, `spec.visibility "Internal": use Public`},
		{"another tenant's project", tu, regNS("new-ns", "default", registryv1.Private, prjO), nil, 422, `spec.projects[0]: no project "prj-oooooooo" in tenant default`},
		{"a missing project", tu, regNS("new-ns", "default", registryv1.Private, "prj-nnnnnnnn"), nil, 422, `spec.projects[0]: no project "prj-nnnnnnnn" in tenant default`},
		{"another tenant's project, by an administrator", admin, regNS("new-ns", "default", registryv1.Private, prjO), nil, 422, `no project "prj-oooooooo" in tenant default`},
		{"a project the writer may not read", pb, regNS("new-ns", "default", registryv1.Private, prjB, prjA), nil, 403, "spec.projects[1]: pb may not share the namespace with project prj-aaaaaaaa"},
		{"a project named twice", tu, regNS("new-ns", "default", registryv1.Private, prjA, prjA), nil, 422, "spec.projects[1]: project prj-aaaaaaaa is named twice"},
		{"an update keeps a project the writer is not in", pb, regNS("team-a", "default", registryv1.Private, prjA, prjB), regNS("team-a", "default", registryv1.Private, prjA), 0, ""},
		{"an update adds a project the writer is not in", pm, regNS("team-a", "default", registryv1.Private, prjA, prjB), regNS("team-a", "default", registryv1.Private, prjA), 403, "pm may not share the namespace with project prj-bbbbbbbb"},
		{"an update adds another tenant's project", tu, regNS("team-a", "default", registryv1.Private, prjA, prjO), regNS("team-a", "default", registryv1.Private, prjA), 422, `spec.projects[1]: no project "prj-oooooooo"`},
	} {
		t.Run(tc.what, func(t *testing.T) {
			apigrouptest.CheckRefusal(t, validate(t, m, tc.p, tc.ns, tc.old), tc.code, tc.msg)
		})
	}
	long := regNS("new-ns", "default", registryv1.Private)
	long.Spec.DisplayName = strings.Repeat("x", 61)
	apigrouptest.CheckRefusal(t, validate(t, m, tu, long, nil), 422, "spec.displayName: at most 60 characters")
}

func TestAdmit(t *testing.T) {
	ctx := context.Background()
	m, st, _, c := module(t)
	admit := func(p *directory.Principal, verb, name string, obj *registryv1.RegistryNamespace, query string) error {
		q, _ := url.ParseQuery(query)
		r := &apigroup.Request{Principal: p, Attributes: attr(verb, name), Query: q}
		if obj != nil {
			r.Object = apigrouptest.Unstructured(t, obj)
		}
		return m.Admit(ctx, r)
	}
	apigrouptest.CheckRefusal(t, admit(tu, "create", "", regNS("ok-ns", "default", ""), ""), 0, "")
	apigrouptest.CheckRefusal(t, admit(tu, "create", "", regNS("Bad", "default", ""), ""), 422, `metadata.name "Bad" is not a registry namespace name`)
	nameless := regNS("", "default", "")
	nameless.GenerateName = "ns-"
	apigrouptest.CheckRefusal(t, admit(tu, "create", "", nameless, ""), 422, "names are never generated")
	apigrouptest.CheckRefusal(t, admit(tu, "deletecollection", "", nil, ""), 405, "delete registry namespaces one at a time")

	// An empty namespace goes; one with repositories is refused unless forced.
	apigrouptest.CheckRefusal(t, admit(tu, "delete", "theirs-pub", nil, ""), 0, "")
	apigrouptest.CheckRefusal(t, admit(tu, "delete", "team-a", nil, ""), 409,
		"registry namespace team-a still holds 2 repositories (e.g. web): delete them, or delete the namespace with ?force=true (kstack registry namespace delete team-a --force)")
	apigrouptest.CheckRefusal(t, admit(tu, "delete", "team-a", nil, "force=false"), 409, "still holds 2 repositories")
	if len(st.deleted) != 0 {
		t.Fatalf("a refused delete deleted %v", st.deleted)
	}
	// Forced, by someone who may not delete the repositories themselves.
	apigrouptest.CheckRefusal(t, admit(pv, "delete", "team-a", nil, "force=true"), 403, "pv may not delete the repositories of registry namespace team-a (it needs deleteRepository on registrynamespace:team-a/repository:*)")
	// The registry fails: the namespace stays (Admit refuses its delete).
	st.fail = errors.New("disk on fire")
	apigrouptest.CheckRefusal(t, admit(tu, "delete", "pub", nil, "force=true"), 503, "listing the repositories of registry namespace pub: disk on fire")
	st.fail = nil
	// Forced by a project member (through the project it is shared with).
	apigrouptest.CheckRefusal(t, admit(pm, "delete", "team-a", nil, "force=true"), 0, "")
	if !slices.Contains(st.deleted, "team-a/web") || !slices.Contains(st.deleted, "team-a/tools/cli") || slices.Contains(st.deleted, "pub/base") {
		t.Fatalf("a forced delete deleted %v", st.deleted)
	}
	// A delete the API server will answer (missing) is not refused here.
	apigrouptest.CheckRefusal(t, admit(tu, "delete", "gone", nil, ""), 0, "")
	// Without the registry, nothing can be checked.
	m.Store = nil
	apigrouptest.CheckRefusal(t, admit(tu, "delete", "pub", nil, ""), 503, "the registry is off on this platform")
	_ = c
}

// failDelete is a store whose namespace deletes fail.
type failDelete struct{ *store }

func (failDelete) DeleteNamespace(context.Context, string) error {
	return errors.New("half the bucket is read-only")
}

func TestAdmitForcedDeleteFails(t *testing.T) {
	m, st, _, _ := module(t)
	m.Store = failDelete{st}
	err := m.Admit(context.Background(), &apigroup.Request{Principal: tu, Attributes: attr("delete", "team-a"), Query: url.Values{"force": {"true"}}})
	apigrouptest.CheckRefusal(t, err, 503, "deleting the repositories of registry namespace team-a: half the bucket is read-only; the namespace is kept: try again")
}

// serve runs the group's routes as the gateway does, for p.
func serve(t *testing.T, m *Module, p *directory.Principal, method, path string) (int, string) {
	t.Helper()
	reg, err := apigroup.NewRegistry(m)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(method, path, nil)
	w := httptest.NewRecorder()
	if !reg.ServeRoute(w, r, p) {
		t.Fatalf("no route serves %s %s", method, path)
	}
	return w.Code, w.Body.String()
}

func nsPath(ns, rest string) string { return GroupPath + "registrynamespaces/" + ns + "/" + rest }

func TestRepositories(t *testing.T) {
	m, _, _, _ := module(t)
	for _, tc := range []struct {
		what     string
		p        *directory.Principal
		ns       string
		code     int
		want     []string
		notWant  []string
		exactMsg string
	}{
		{"a platform user", tu, "team-a", 200, []string{`"name":"tools/cli"`, `"pull":"reg.example:8443/team-a/tools/cli"`, `"name":"web","namespace":"team-a","tags":2,"size":250`, `"kind":"RepositoryList"`}, nil, ""},
		{"a member of the project it is shared with", pm, "team-a", 200, []string{`"name":"web"`}, nil, ""},
		{"a read-only member of it", pv, "team-a", 200, []string{`"name":"web"`}, nil, ""},
		{"one repository's reader", one, "team-a", 200, []string{`"name":"web"`}, []string{"tools/cli"}, ""},
		{"another project's admin", pb, "team-a", 403, []string{"pb may not read registry namespace team-a: it needs pullRepository on registrynamespace:team-a/repository:*"}, nil, ""},
		{"no one", nobody, "team-a", 403, []string{"nobody may not read registry namespace team-a"}, nil, ""},
		{"anyone, a public one", nobody, "pub", 200, []string{`"name":"base"`}, nil, ""},
		{"another tenant's public one", tu, "theirs-pub", 200, []string{`"items":[]`}, nil, ""},
		{"an administrator, another tenant's", admin, "theirs", 200, []string{`"name":"secret"`}, nil, ""},
		{"another tenant's private one", tu, "theirs", 404, nil, []string{"secret"}, `registrynamespace "theirs" not found`},
		{"a missing one", tu, "nosuch", 404, nil, nil, `registrynamespace "nosuch" not found`},
		{"an invalid name", tu, "No_Such", 404, nil, nil, `registrynamespace "No_Such" not found`},
	} {
		t.Run(tc.what, func(t *testing.T) {
			code, body := serve(t, m, tc.p, "GET", nsPath(tc.ns, "repositories"))
			if code != tc.code {
				t.Fatalf("got %d %s, want %d", code, body, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("the answer lacks %s: %s", w, body)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(body, w) {
					t.Errorf("the answer holds %s: %s", w, body)
				}
			}
			if tc.exactMsg != "" && !strings.Contains(body, `"message":"`+strings.ReplaceAll(tc.exactMsg, `"`, `\"`)+`"`) {
				t.Errorf("want the message %s: %s", tc.exactMsg, body)
			}
		})
	}
	if code, body := serve(t, m, tu, "GET", nsPath("team-a", "repositories")); code != 200 || strings.Index(body, `"tools/cli"`) > strings.Index(body, `"web"`) {
		t.Errorf("repositories are sorted by name: %s", body)
	}
	m.Store = nil
	if code, body := serve(t, m, tu, "GET", nsPath("team-a", "repositories")); code != 503 || !strings.Contains(body, "the registry is off") {
		t.Errorf("without the registry: %d %s", code, body)
	}
}

func TestTags(t *testing.T) {
	m, st, _, _ := module(t)
	st.repos["team-a/ci/tags"] = []registryv1.Tag{{Name: "nightly"}}
	for _, tc := range []struct {
		what, path string
		p          *directory.Principal
		code       int
		want       string
	}{
		{"a repository with a slash", nsPath("team-a", "repositories/tools/cli/tags"), pm, 200, `"pull":"reg.example:8443/team-a/tools/cli:v1"`},
		{"sorted, with digests and sizes", nsPath("team-a", "repositories/web/tags"), tu, 200, `"items":[{"name":"v1","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","mediaType":"application/vnd.oci.image.manifest.v1+json","size":100`},
		{"the one repository one reads", nsPath("team-a", "repositories/web/tags"), one, 200, `"name":"v2"`},
		{"a repository one may not read", nsPath("team-a", "repositories/tools/cli/tags"), one, 403, "one may not read registry namespace team-a: it needs pullRepository on registrynamespace:team-a/repository:tools/cli"},
		{"a missing repository", nsPath("team-a", "repositories/nope/tags"), tu, 404, `repository \"nope\" not found in registry namespace team-a`},
		{"a public one's", nsPath("pub", "repositories/base/tags"), oa, 200, `"name":"v1"`},
		{"another tenant's private one", nsPath("theirs", "repositories/secret/tags"), tu, 404, `registrynamespace \"theirs\" not found`},
		{"a repository named …/tags", nsPath("team-a", "repositories/ci/tags/tags"), tu, 200, `"pull":"reg.example:8443/team-a/ci/tags:nightly"`},
		{"no tags suffix", nsPath("team-a", "repositories/web"), tu, 404, "REPOSITORY/tags lists a repository's tags"},
		{"an invalid repository", nsPath("team-a", "repositories/Web/tags"), tu, 400, `repository \"Web\" is not a repository name`},
	} {
		t.Run(tc.what, func(t *testing.T) {
			code, body := serve(t, m, tc.p, "GET", tc.path)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %s, want %d with %s", code, body, tc.code, tc.want)
			}
		})
	}
}

func TestDeletes(t *testing.T) {
	ctx := context.Background()
	m, st, _, c := module(t)
	for _, tc := range []struct {
		what, path string
		p          *directory.Principal
		code       int
		want       string
	}{
		{"a viewer deletes a tag", nsPath("team-a", "repositories/web:v1"), pv, 403, "pv may not delete team-a/web: it needs deleteRepository on registrynamespace:team-a/repository:web"},
		{"one repository's reader deletes it", nsPath("team-a", "repositories/web"), one, 403, "one may not delete team-a/web"},
		{"another tenant's private one", nsPath("theirs", "repositories/secret:v1"), tu, 404, `registrynamespace \"theirs\" not found`},
		{"another tenant's public one", nsPath("theirs-pub", "repositories/x"), tu, 403, "it is another tenant's (public, so readable only)"},
		{"a bad tag", nsPath("team-a", "repositories/web:.v1"), tu, 400, `tag \".v1\" is not a tag`},
		{"a missing tag", nsPath("team-a", "repositories/web:v9"), tu, 404, `tag \"v9\" not found in repository team-a/web`},
		{"a missing repository", nsPath("team-a", "repositories/nope"), tu, 404, `repository \"nope\" not found in registry namespace team-a`},
		{"a member deletes a tag", nsPath("team-a", "repositories/web:v1"), pm, 200, `"message":"tag v1 of team-a/web deleted"`},
		{"a platform user deletes a repository with a slash", nsPath("team-a", "repositories/tools/cli"), tu, 200, `"message":"repository team-a/tools/cli deleted"`},
	} {
		t.Run(tc.what, func(t *testing.T) {
			code, body := serve(t, m, tc.p, "DELETE", tc.path)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %s, want %d with %s", code, body, tc.code, tc.want)
			}
		})
	}
	if want := []string{"team-a/web:v1", "team-a/tools/cli"}; !slices.Equal(st.deleted, want) {
		t.Fatalf("deleted %v, want %v", st.deleted, want)
	}
	// The namespace's status follows at once.
	var ns registryv1.RegistryNamespace
	if err := c.Get(ctx, client.ObjectKey{Name: "team-a"}, &ns); err != nil {
		t.Fatal(err)
	}
	if ns.Status.RepoCount != 1 || ns.Status.Size != 150 {
		t.Fatalf("status after the deletes: %+v", ns.Status)
	}
}

// TestInvisible: on every route, another tenant's private namespace is
// answered exactly as a missing one (code and body).
func TestInvisible(t *testing.T) {
	m, st, _, _ := module(t)
	for _, r := range []struct{ method, rest string }{
		{"GET", "repositories"}, {"GET", "repositories/secret/tags"}, {"GET", "guide"}, {"GET", "guide?repository=secret&tag=v1"},
		{"DELETE", "repositories/secret"}, {"DELETE", "repositories/secret:v1"},
	} {
		theirsCode, theirs := serve(t, m, tu, r.method, nsPath("theirs", r.rest))
		missingCode, missing := serve(t, m, tu, r.method, nsPath("nosuchns", r.rest))
		missing = strings.ReplaceAll(missing, "nosuchns", "theirs")
		if theirsCode != 404 || theirsCode != missingCode || theirs != missing {
			t.Errorf("%s %s: another tenant's answers %d %s, a missing one %d %s", r.method, r.rest, theirsCode, theirs, missingCode, missing)
		}
	}
	if len(st.deleted) != 0 || len(st.repos["theirs/secret"]) != 1 {
		t.Fatalf("another tenant's images were deleted: %v", st.deleted)
	}
	// The twin: their own user reads it.
	if code, body := serve(t, m, oa, "GET", nsPath("theirs", "repositories")); code != 200 || !strings.Contains(body, `"name":"secret"`) {
		t.Fatalf("their own platform user: %d %s", code, body)
	}
}

func TestGuide(t *testing.T) {
	m, _, _, _ := module(t)
	for _, tc := range []struct {
		what, path string
		p          *directory.Principal
		code       int
		want       []string
	}{
		{"a platform user", nsPath("team-a", "guide"), tu, 200, []string{
			`"registry":"reg.example:8443","namespace":"team-a","username":"tu"`,
			`"login":"docker login reg.example:8443 -u tu"`,
			`"tag":"docker tag LOCAL-IMAGE reg.example:8443/team-a/REPOSITORY:TAG"`,
			`"push":"docker push reg.example:8443/team-a/REPOSITORY:TAG"`,
			`"pull":"docker pull reg.example:8443/team-a/REPOSITORY:TAG"`,
			"The password is your platform password, or an access key",
			"--password-stdin", "skopeo login reg.example:8443 -u tu", "helm push CHART.tgz oci://reg.example:8443/team-a",
		}},
		{"with a repository and tag", nsPath("team-a", "guide?repository=tools/cli&tag=v1.2"), pm, 200, []string{`"push":"docker push reg.example:8443/team-a/tools/cli:v1.2"`}},
		{"another tenant's user, OIDC", nsPath("theirs", "guide"), oa, 200, []string{`"login":"docker login reg.example:8443 -u other.oa"`, "create an access key"}},
		{"a reader who may not push", nsPath("team-a", "guide"), pv, 200, []string{"You may not push to this namespace: that needs pushRepository on registrynamespace:team-a/repository:*"}},
		{"no rights", nsPath("team-a", "guide"), nobody, 200, []string{"You may neither push to nor pull from this namespace"}},
		{"a public one", nsPath("pub", "guide"), nobody, 200, []string{"anyone pulls from it, without logging in", "You may not push"}},
		{"another tenant's public one", nsPath("theirs-pub", "guide"), tu, 200, []string{"another tenant's: you may pull from it, not push to it"}},
		{"another tenant's private one", nsPath("theirs", "guide"), tu, 404, []string{`registrynamespace \"theirs\" not found`}},
		{"a bad repository", nsPath("team-a", "guide?repository=A"), tu, 400, []string{"is not a repository name"}},
		{"a bad tag", nsPath("team-a", "guide?tag=-x"), tu, 400, []string{"is not a tag"}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			code, body := serve(t, m, tc.p, "GET", tc.path)
			if code != tc.code {
				t.Fatalf("got %d %s, want %d", code, body, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("the answer lacks %s: %s", w, body)
				}
			}
		})
	}
}

func TestPortal(t *testing.T) {
	m, _, _, _ := module(t)
	for _, tc := range []struct {
		p         *directory.Principal
		want, not []string
	}{
		{tu, []string{"team-a", "pub"}, []string{"theirs"}},
		{pm, []string{"team-a", "pub"}, []string{"theirs"}},
		{pb, []string{"pub"}, []string{"team-a", "theirs"}},
		{nobody, []string{"pub"}, []string{"team-a", "theirs"}},
		{oa, []string{"theirs", "theirs-pub"}, []string{"team-a", `"pub"`}},
		{admin, []string{"team-a", "pub", "theirs", "theirs-pub"}, nil},
	} {
		code, body := serve(t, m, tc.p, "GET", GroupPath+"portal")
		if code != 200 || !strings.Contains(body, `"kind":"RegistryNamespaceList"`) {
			t.Fatalf("%s: %d %s", tc.p.Username, code, body)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, `"name":"`+w+`"`) {
				t.Errorf("%s: the portal lacks %s: %s", tc.p.Username, w, body)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(body, `"name":"`+strings.Trim(w, `"`)+`"`) {
				t.Errorf("%s: the portal holds %s: %s", tc.p.Username, w, body)
			}
		}
	}
}

func TestGCAndRotate(t *testing.T) {
	m, st, rot, _ := module(t)
	rotate := func(prj string) string { return Prefix + "/projects/" + prj + "/pullcredential/rotate" }
	for _, tc := range []struct {
		what, method, path string
		p                  *directory.Principal
		code               int
		want               string
	}{
		{"gc by a platform user", "POST", Prefix + "/gc", tu, 403, "tu may not run the registry's garbage collection: only platform administrators do"},
		{"gc by the administrator", "POST", Prefix + "/gc", admin, 200, `"marked":4,"deleted":1,"deletedBytes":42`},
		{"rotate by the project's admin", "POST", rotate(prjB), pb, 200, `"username":"kstack-pull-prj-bbbbbbbb"`},
		{"rotate by a member", "POST", rotate(prjA), pm, 403, "pm may not rotate the pull credential of project prj-aaaaaaaa (it needs updateProject there)"},
		{"rotate another tenant's project", "POST", rotate(prjA), oa, 404, `no project \"prj-aaaaaaaa\"`},
		{"rotate a missing project", "POST", rotate("prj-nnnnnnnn"), oa, 404, `no project \"prj-nnnnnnnn\"`},
		{"rotate as the administrator", "POST", rotate(prjO), admin, 200, `"project":"prj-oooooooo"`},
	} {
		t.Run(tc.what, func(t *testing.T) {
			code, body := serve(t, m, tc.p, tc.method, tc.path)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %s, want %d with %s", code, body, tc.code, tc.want)
			}
		})
	}
	if !slices.Equal(rot.rotated, []string{prjB, prjO}) {
		t.Fatalf("rotated %v", rot.rotated)
	}
	st.fail = errors.New("sweep interrupted")
	if code, body := serve(t, m, admin, "POST", Prefix+"/gc"); code != 503 || !strings.Contains(body, "sweep interrupted") {
		t.Fatalf("a failed gc: %d %s", code, body)
	}
	m.Pull, m.Store = nil, nil
	for _, path := range []string{Prefix + "/gc", rotate(prjB)} {
		p := admin
		if code, body := serve(t, m, p, "POST", path); code != 503 || !strings.Contains(body, "the registry is off") {
			t.Errorf("%s without the registry: %d %s", path, code, body)
		}
	}
}

func TestStatusController(t *testing.T) {
	ctx := context.Background()
	m, st, _, c := module(t)
	s := &Status{Client: c, Store: st, Interval: 5 * time.Second}
	res, err := s.Reconcile(ctx, reconcileRequest("team-a"))
	if err != nil || res.RequeueAfter != 5*time.Second {
		t.Fatalf("reconcile: %v %+v", err, res)
	}
	var ns registryv1.RegistryNamespace
	if err := c.Get(ctx, client.ObjectKey{Name: "team-a"}, &ns); err != nil {
		t.Fatal(err)
	}
	if ns.Status.RepoCount != 2 || ns.Status.Size != 260 {
		t.Fatalf("status: %+v", ns.Status)
	}
	// A failing registry is tried again at the next round, not in a loop.
	st.fail = errors.New("bucket away")
	if res, err := s.Reconcile(ctx, reconcileRequest("team-a")); err != nil || res.RequeueAfter != 5*time.Second {
		t.Fatalf("reconcile with the registry away: %v %+v", err, res)
	}
	// A missing namespace is no error.
	st.fail = nil
	if _, err := s.Reconcile(ctx, reconcileRequest("gone")); err != nil {
		t.Fatal(err)
	}
	if got := m.Controllers(); len(got) != 3 || got[0].Name != "registry-namespace-status" || got[1].Name != "registry-pull-credentials" || got[1].Setup(nil) != nil ||
		got[2].Name != "chart-import" {
		t.Fatalf("controllers: %+v", got)
	}
}

func TestResources(t *testing.T) {
	m, _, _, _ := module(t)
	res := m.Resources()
	if len(res) != 2 || res[0].Kind != "registrynamespace" || !res[0].TenantScoped || res[0].Patch != apigroup.PatchAnyone ||
		res[1].Kind != "chartgroup" || !res[1].TenantScoped || res[1].Patch != apigroup.PatchAdmins {
		t.Fatalf("resources: %+v", res)
	}
	if _, err := apigroup.NewRegistry(m); err != nil {
		t.Fatal(err)
	}
	// The object stays Unstructured-convertible with the spec's fields.
	u := apigrouptest.Unstructured(t, regNS("x1", "default", registryv1.Public, prjA))
	if v, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "projects"); !slices.Equal(v, []string{prjA}) {
		t.Fatalf("projects: %v", v)
	}
}

func reconcileRequest(name string) ctrl.Request {
	return ctrl.Request{NamespacedName: types.NamespacedName{Name: name}}
}
