package console

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// registryFake stands in for the gateway's registry group: the portal,
// the namespace objects, repositories, tags, the guide and the deletes.
// It records every request.
type registryFake struct {
	mu      sync.Mutex
	reqs    []string
	bodies  map[string]string
	refuse  map[string]string // "METHOD path" → a 4xx message
	missing map[string]bool   // namespaces answered 404
}

const regAPI = "/registry/apis/registry.tkestack.io/v1"

func (f *registryFake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Method + " " + r.URL.RequestURI()
	f.mu.Lock()
	f.reqs = append(f.reqs, key)
	f.bodies[key] = string(body)
	refusal, refused := f.refuse[key]
	f.mu.Unlock()
	status := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "message": msg})
	}
	if refused {
		code := http.StatusConflict
		if strings.HasPrefix(refusal, "422 ") {
			code, refusal = http.StatusUnprocessableEntity, strings.TrimPrefix(refusal, "422 ")
		}
		status(code, refusal)
		return
	}
	p := r.URL.Path
	for ns := range f.missing {
		if strings.HasPrefix(p, regAPI+"/registrynamespaces/"+ns) {
			status(http.StatusNotFound, fmt.Sprintf("registrynamespace %q not found", ns))
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case p == "/business/apis/business.tkestack.io/v1/portal":
		fmt.Fprint(w, `{"projects":[{"name":"prj-aaaaaaaa","displayName":"Shop","role":"project-member"}]}`)
	case p == regAPI+"/portal":
		fmt.Fprint(w, `{"kind":"RegistryNamespaceList","items":[{"metadata":{"name":"team-a"},"spec":{"tenantID":"default","visibility":"Private","projects":["prj-aaaaaaaa"],"displayName":"Team A"},"status":{"repoCount":2,"size":3145728}},`+
			`{"metadata":{"name":"base"},"spec":{"tenantID":"default","visibility":"Public"},"status":{"repoCount":0}}]}`)
	case p == regAPI+"/registrynamespaces/team-a" && r.Method == http.MethodGet:
		status(http.StatusForbidden, "pm may not getRegistrynamespace")
	case p == regAPI+"/registrynamespaces" && r.Method == http.MethodPost:
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	case p == regAPI+"/registrynamespaces/team-a/repositories":
		fmt.Fprint(w, `{"kind":"RepositoryList","items":[{"name":"tools/cli","namespace":"team-a","tags":1,"size":1536,"pushedAt":"2025-03-01T12:00:00Z","pull":"reg:8443/team-a/tools/cli"},`+
			`{"name":"web","namespace":"team-a","tags":2,"size":250,"pull":"reg:8443/team-a/web"}]}`)
	case strings.HasPrefix(p, regAPI+"/registrynamespaces/team-a/guide"):
		q := r.URL.Query()
		repo, tag := "REPOSITORY", "TAG"
		if v := q.Get("repository"); v != "" {
			repo = v
		}
		if v := q.Get("tag"); v != "" {
			tag = v
		}
		ref := "reg:8443/team-a/" + repo + ":" + tag
		_ = json.NewEncoder(w).Encode(map[string]any{"registry": "reg:8443", "namespace": "team-a", "username": "pm",
			"login": "docker login reg:8443 -u pm", "tag": "docker tag LOCAL-IMAGE " + ref, "push": "docker push " + ref, "pull": "docker pull " + ref,
			"notes": []string{"The password is your platform password, or an access key."}})
	case p == regAPI+"/registrynamespaces/team-a/repositories/tools/cli/tags":
		fmt.Fprint(w, `{"kind":"TagList","items":[{"name":"v1","digest":"sha256:abc","mediaType":"application/vnd.oci.image.manifest.v1+json","size":100,"pushedAt":"2025-03-01T12:00:00Z","pull":"reg:8443/team-a/tools/cli:v1"}]}`)
	case r.Method == http.MethodDelete:
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Success","code":200}`)
	default:
		status(http.StatusNotFound, "no "+p)
	}
}

func (f *registryFake) sent(req string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.reqs {
		if r == req {
			return true
		}
	}
	return false
}

// registryServer serves the registry pages as pm, a member of
// prj-aaaaaaaa (the fake decider allows everything: the API decides).
func registryServer(t *testing.T) (*Server, *registryFake) {
	s := testServer(t)
	f := &registryFake{bodies: map[string]string{}, refuse: map[string]string{}, missing: map[string]bool{}}
	s.Serve = func(w http.ResponseWriter, r *http.Request, _ *directory.Principal) { f.serve(w, r) }
	s.Decider = &decision.Decider{}
	mux := http.NewServeMux()
	s.registryRoutesWith(mux, func(h handlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h(w, &request{Request: r, s: s, user: admin, csrf: "tok"})
		})
	})
	testMuxes.Store(s, mux)
	return s, f
}

func TestRegistryNamespacesPage(t *testing.T) {
	s, f := registryServer(t)
	for _, base := range []string{"/console/platform/registry", "/console/business/registry"} {
		w := do(s, "GET", base, nil, false)
		body := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", base, w.Code, body)
		}
		for _, want := range []string{`id="registry-namespaces"`, `href="` + base + `/team-a"`, "Team A", "prj-aaaaaaaa", "3.0 MiB", `id="rns-base"`,
			`id="rns-form"`, `name="project" value="prj-aaaaaaaa"`, "Shop (prj-aaaaaaaa)", `id="confirm-delete-team-a"`, `name="force" value="true"`, `id="nav-registry"`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %s", base, want)
			}
		}
	}
	if w := do(s, "GET", "/console/business/registry", nil, false); !strings.Contains(w.Body.String(), `aria-label="Business"`) {
		t.Errorf("the business console's page is in the business console")
	}
	_ = f
}

func TestCreateRegistryNamespace(t *testing.T) {
	s, f := registryServer(t)
	w := do(s, "POST", "/console/platform/registry", map[string][]string{"name": {"team-b"}, "displayName": {"B"}, "visibility": {"Public"},
		"project": {"prj-aaaaaaaa"}, "moreProjects": {"prj-bbbbbbbb, prj-aaaaaaaa"}}, true)
	if w.Code != http.StatusNoContent || w.Header().Get("HX-Redirect") != "/console/platform/registry/team-b?notice=Registry+namespace+team-b+created%3A+push+to+it+with+the+commands+below" {
		t.Fatalf("create: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	var sent struct {
		Kind     string
		Metadata struct{ Name string }
		Spec     struct {
			Visibility, DisplayName string
			Projects                []string
		}
	}
	if err := json.Unmarshal([]byte(f.bodies["POST "+regAPI+"/registrynamespaces"]), &sent); err != nil {
		t.Fatal(err)
	}
	if sent.Kind != "RegistryNamespace" || sent.Metadata.Name != "team-b" || sent.Spec.Visibility != "Public" || sent.Spec.DisplayName != "B" ||
		strings.Join(sent.Spec.Projects, ",") != "prj-aaaaaaaa,prj-bbbbbbbb" {
		t.Fatalf("create sent %+v", sent)
	}
	// The API's refusal is shown in the form, with what was typed.
	f.refuse["POST "+regAPI+"/registrynamespaces"] = `422 metadata.name "v2" is reserved: it is the registry API's own path`
	w = do(s, "POST", "/console/platform/registry", map[string][]string{"name": {"v2"}, "visibility": {"Private"}}, true)
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `id="rns-error"`) || !strings.Contains(body, "is reserved: it is the registry API") || !strings.Contains(body, `value="v2"`) ||
		strings.Contains(body, "<html") {
		t.Fatalf("a refused create: %d %s", w.Code, body)
	}
	// A form without a name is not sent.
	f.reqs = nil
	w = do(s, "POST", "/console/platform/registry", map[string][]string{"visibility": {"Private"}}, true)
	if !strings.Contains(w.Body.String(), "name the namespace") || f.sent("POST "+regAPI+"/registrynamespaces") {
		t.Fatalf("a nameless create: %s %v", w.Body.String(), f.reqs)
	}
}

func TestDeleteRegistryNamespace(t *testing.T) {
	s, f := registryServer(t)
	w := do(s, "POST", "/console/platform/registry/team-a/delete", map[string][]string{"confirm": {"team"}}, true)
	if !strings.Contains(w.Body.String(), "type the name team-a to confirm") || f.sent("DELETE "+regAPI+"/registrynamespaces/team-a") {
		t.Fatalf("an unconfirmed delete: %s %v", w.Body.String(), f.reqs)
	}
	// Refused while it holds repositories: the API's words in the alert box.
	f.refuse["DELETE "+regAPI+"/registrynamespaces/team-a"] = "registry namespace team-a still holds 2 repositories (e.g. web)"
	w = do(s, "POST", "/console/platform/registry/team-a/delete", map[string][]string{"confirm": {"team-a"}}, true)
	if w.Header().Get("HX-Retarget") != "#alert" || !strings.Contains(w.Body.String(), "still holds 2 repositories") {
		t.Fatalf("a refused delete: %v %s", w.Header(), w.Body.String())
	}
	w = do(s, "POST", "/console/platform/registry/team-a/delete", map[string][]string{"confirm": {"team-a"}, "force": {"true"}}, true)
	if !f.sent("DELETE "+regAPI+"/registrynamespaces/team-a?force=true") || w.Header().Get("HX-Redirect") != "/console/platform/registry?notice=Registry+namespace+team-a+deleted" {
		t.Fatalf("a forced delete: %v %v", f.reqs, w.Header())
	}
}

func TestRegistryNamespacePage(t *testing.T) {
	s, f := registryServer(t)
	w := do(s, "GET", "/console/business/registry/team-a", nil, false)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	for _, want := range []string{
		// The details come from the portal when the object is read through a project.
		`id="rns-details"`, "prj-aaaaaaaa",
		`href="/console/business/registry/team-a/tags?repository=tools%2Fcli"`, "1.5 KiB", "2025-03-01 12:00:00", "reg:8443/team-a/web",
		`<pre class="copyable" id="guide-login">docker login reg:8443 -u pm</pre>`, `data-copy="guide-login"`,
		`id="guide-push">docker push reg:8443/team-a/REPOSITORY:TAG</pre>`, `data-copy="guide-pull"`, "The password is your platform password",
		`id="confirm-delete-repo-web"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the namespace page lacks %s", want)
		}
	}
	// The guide filled in.
	w = do(s, "GET", "/console/business/registry/team-a?repository=web&tag=v1", nil, false)
	if !strings.Contains(w.Body.String(), `id="guide-push">docker push reg:8443/team-a/web:v1</pre>`) || !f.sent("GET "+regAPI+"/registrynamespaces/team-a/guide?repository=web&tag=v1") {
		t.Fatalf("the filled-in guide: %s", w.Body.String())
	}
	// Another tenant's private namespace is missing, as in the API.
	f.missing["theirs"] = true
	w = do(s, "GET", "/console/business/registry/theirs", nil, false)
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "registrynamespace &#34;theirs&#34; not found") {
		t.Fatalf("another tenant's namespace: %d %s", w.Code, w.Body.String())
	}
	if w := do(s, "GET", "/console/business/registry/No_Such", nil, false); w.Code != http.StatusNotFound {
		t.Fatalf("an invalid name: %d", w.Code)
	}
}

func TestRegistryRepositoryPageAndDeletes(t *testing.T) {
	s, f := registryServer(t)
	w := do(s, "GET", "/console/platform/registry/team-a/tags?repository=tools/cli", nil, false)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	for _, want := range []string{`id="tags"`, "sha256:abc", "100 B", `id="pull-0">docker pull reg:8443/team-a/tools/cli:v1</pre>`, `data-copy="pull-0"`,
		`id="confirm-delete-tag-v1"`, `name="repository" value="tools/cli"`, `id="confirm-delete-repository"`, "Repository team-a/tools/cli"} {
		if !strings.Contains(body, want) {
			t.Errorf("the repository page lacks %s", want)
		}
	}
	w = do(s, "POST", "/console/platform/registry/team-a/delete-tag", map[string][]string{"repository": {"tools/cli"}, "tag": {"v1"}, "confirm": {"v1"}}, true)
	if !f.sent("DELETE "+regAPI+"/registrynamespaces/team-a/repositories/tools/cli:v1") ||
		w.Header().Get("HX-Redirect") != "/console/platform/registry/team-a/tags?repository=tools%2Fcli&notice=Tag+v1+of+team-a%2Ftools%2Fcli+deleted" {
		t.Fatalf("a tag delete: %v %v", f.reqs, w.Header())
	}
	w = do(s, "POST", "/console/platform/registry/team-a/delete-repository", map[string][]string{"repository": {"tools/cli"}, "confirm": {"tools/cli"}}, true)
	if !f.sent("DELETE "+regAPI+"/registrynamespaces/team-a/repositories/tools/cli") ||
		w.Header().Get("HX-Redirect") != "/console/platform/registry/team-a?notice=Repository+team-a%2Ftools%2Fcli+deleted" {
		t.Fatalf("a repository delete: %v %v", f.reqs, w.Header())
	}
	// Unconfirmed or malformed deletes send nothing.
	f.reqs = nil
	for _, form := range []map[string][]string{
		{"repository": {"tools/cli"}, "tag": {"v1"}, "confirm": {"v2"}},
		{"repository": {"tools/cli:v1"}, "tag": {"v1"}, "confirm": {"v1"}},
	} {
		do(s, "POST", "/console/platform/registry/team-a/delete-tag", form, true)
	}
	do(s, "POST", "/console/platform/registry/team-a/delete-repository", map[string][]string{"repository": {"web"}, "confirm": {"tools/cli"}}, true)
	if len(f.reqs) != 0 {
		t.Fatalf("refused deletes sent %v", f.reqs)
	}
}

// registryPages are the registry pages with h wherever users put text.
func registryPages(h string) []struct {
	name, block string
	data        any
} {
	sc := registryScope{Base: "/x/" + h, Section: "platform"}
	form := registryNSForm{Name: h, DisplayName: h, Visibility: h, MoreProjects: h, Projects: map[string]bool{h: true}, Choices: []choice{{Value: h, Label: h}},
		Error: h, Errors: map[string]string{"name": h, "visibility": h}}
	return []struct {
		name, block string
		data        any
	}{
		{"registry", "layout", registryData{Scope: sc, Err: h, CanCreate: true, ShowTenant: true, Form: form,
			Rows: []registryNSRow{{Name: h, DisplayName: h, Tenant: h, Visibility: h, Projects: h, Size: h, Repos: 2, URL: "/x/" + h, DeleteURL: "/x/" + h}}}},
		{"registry", "nsform", registryData{Scope: sc, CanCreate: true, Form: form}},
		{"registryns", "layout", registryNSData{Scope: sc, Name: h, Err: h, GuideErr: h, GuideRepo: h, GuideTag: h, CanDelete: true,
			Repos: []registryRepoRow{{Name: h, Size: h, Pushed: h, Pull: h, URL: "/x/" + h, Tags: 1}}}},
		{"registryns", "layout", registryNSData{Scope: sc, Name: h, Guide: hostileGuide(h)}},
		{"registryrepo", "layout", registryRepoData{Scope: sc, NS: h, Repo: h, Err: h, CanDelete: true,
			Tags: []registryTagRow{{Name: h, Digest: h, MediaType: h, Size: h, Pushed: h, Pull: h}}}},
	}
}

func TestRegistryPagesRenderAndEscape(t *testing.T) {
	s := testServer(t)
	user := &directory.Principal{Username: "alice", Tenant: "default"}
	for _, p := range registryPages(hostile) {
		t.Run(p.name+"/"+p.block, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.execute(w, 200, p.name, p.block, view{User: user, CSRF: "tok", Section: "platform", Title: hostile, Error: hostile, Crumbs: []crumb{{hostile, "/console/"}}, Data: p.data})
			body := w.Body.String()
			if w.Code != 200 {
				t.Fatalf("code %d: %s", w.Code, body)
			}
			for _, bad := range []string{"<script>alert", "<img src=x", "onerror=alert(2)>", " onclick=", "hx-on"} {
				if strings.Contains(body, bad) {
					t.Errorf("%q unescaped in:\n%s", bad, body)
				}
			}
		})
	}
}

func hostileGuide(h string) *registryv1.UploadGuide {
	return &registryv1.UploadGuide{Registry: h, Namespace: h, Username: h, Login: h, Tag: h, Push: h, Pull: h, Notes: []string{h}}
}
