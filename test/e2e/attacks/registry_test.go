package attacks

import (
	"context"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/testutil/ocitest"
	"github.com/kstack/kstack/test/e2e/framework"
)

const registryAPI = "/registry/apis/registry.tkestack.io/v1/"

// registry: the registry group's rows. Registry namespaces are
// tenant-scoped and name projects; the group's actions (repositories,
// tags, the upload guide, deletes, the garbage collection, the rotation
// of a pull credential) answer another tenant's private namespace exactly
// as a missing one. The default tenant has atk-dflt (private, shared with
// its project) and atk-pub (public); tenant t2 has atk-t2 (private, shared
// with t2's project), made by dave. Each holds an image, so every twin
// shows something. Pulling another tenant's image is the registry's own
// e2e (test/e2e/registry); these are the API's rows.
//
// Run it from TestAttacks after fixtures:
//
//	t.Run("registry", func(t *testing.T) { registry(t, k, hc, base, tokens) })
func registry(t *testing.T, k *framework.Kstack, hc *http.Client, base string, tokens map[string]string) {
	root, dave := tokens["root"], tokens["dave"]
	host := strings.TrimPrefix(base, "https://")
	nss := base + registryAPI + "registrynamespaces"
	ns := func(name, vis, projects string) string {
		return `{"apiVersion":"registry.tkestack.io/v1","kind":"RegistryNamespace","metadata":{"name":"` + name + `"},"spec":{"visibility":"` + vis + `","projects":[` + projects + `]}}`
	}
	mustDo(t, hc, root, "POST", nss, ns("atk-dflt", "Private", `"`+dfltProj+`"`))
	mustDo(t, hc, root, "POST", nss, ns("atk-pub", "Public", ""))
	mustDo(t, hc, dave, "POST", nss, ns("atk-t2", "Private", `"`+t2Project+`"`))

	// An image in each, pushed with a password (registry users are
	// "admin" and "t2.dave").
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(k.PlatformCA())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	push := func(user, password, ref string) {
		r := ocitest.Remote{RootCAs: pool, Username: user, Password: password}
		if err := r.Push(ctx, host+"/"+ref, ocitest.RandomImage(t, 1, 1024)); err != nil {
			t.Fatalf("pushing %s as %s: %v", ref, user, err)
		}
	}
	push("admin", adminPassword, "atk-dflt/app:v1")
	push("admin", adminPassword, "atk-pub/base:v1")
	push("t2.dave", "Passw0rd-Dave1", "atk-t2/app:v1")

	own, theirs, missing, pub := nss+"/atk-t2", nss+"/atk-dflt", nss+"/atk-none", nss+"/atk-pub"
	hidden := func(name string) string { return `registrynamespace "` + name + `" not found` }
	update := func(body string) string {
		return strings.Replace(body, `"metadata":{`, `"metadata":{"resourceVersion":"`+rvPlaceholder+`",`, 1)
	}
	yaml := "apiVersion: registry.tkestack.io/v1\nkind: RegistryNamespace\nmetadata:\n  name: atk-t2\n  labels:\n    kstack.io/tenant: default\n"
	shared := func(projects string) string {
		return "apiVersion: registry.tkestack.io/v1\nkind: RegistryNamespace\nmetadata:\n  name: atk-t2\nspec:\n  projects: [" + projects + "]\n"
	}
	watch := "?watch=true&timeoutSeconds=2"
	check(t, hc, tokens, []row{
		// The object, across tenants.
		{what: "registry namespace: read one's own (twin)", who: "dave", method: "GET", url: own, allow: true, want: `"name":"atk-t2"`},
		{what: "registry namespace: read another tenant's", who: "dave", method: "GET", url: theirs, want: hidden("atk-dflt")},
		{what: "registry namespace: read a missing one", who: "dave", method: "GET", url: missing, want: hidden("atk-none")},
		{what: "registry namespace: patch another tenant's", who: "dave", method: "PATCH", url: theirs, contentType: merge, body: `{"spec":{"visibility":"Public"}}`, want: hidden("atk-dflt")},
		{what: "registry namespace: replace another tenant's", who: "dave", method: "PUT", url: theirs, contentType: "application/json", body: ns("atk-dflt", "Public", ""), want: hidden("atk-dflt")},
		{what: "registry namespace: delete another tenant's", who: "dave", method: "DELETE", url: theirs + "?force=true", want: hidden("atk-dflt")},
		{what: "registry namespaces: delete a collection", who: "dave", method: "DELETE", url: nss, want: "delete registry namespaces one at a time"},
		// Every patch type that would move it to another tenant; the
		// twin keeps it in its own.
		{what: "registry namespace: label, merge patch (twin)", who: "dave", method: "PATCH", url: own, contentType: merge, body: `{"metadata":{"labels":{"team":"red"}}}`, allow: true, want: `"team":"red"`},
		{what: "registry namespace: relabel, merge patch", who: "dave", method: "PATCH", url: own, contentType: merge, body: `{"metadata":{"labels":{"kstack.io/tenant":"default"}}}`, want: "cannot change"},
		{what: "registry namespace: relabel, escaped key", who: "dave", method: "PATCH", url: own, contentType: merge, body: `{"metadata":{"labels":{"kstack.io\u002ftenant":"default"}}}`, want: "cannot change"},
		{what: "registry namespace: move, JSON patch", who: "dave", method: "PATCH", url: own, contentType: jsonPatch, body: `[{"op":"replace","path":"/spec/tenantID","value":"default"}]`, want: "cannot change"},
		{what: "registry namespace: relabel, server-side apply (YAML)", who: "dave", method: "PATCH", url: own + "?fieldManager=dave&force=true", contentType: apply, body: yaml, want: "cannot change"},
		{what: "registry namespace: move, duplicate keys", who: "dave", method: "PATCH", url: own, contentType: merge, body: `{"spec":{"tenantID":"t2","tenantID":"default"}}`, want: "cannot change"},
		{what: "registry namespace: strategic merge patch", who: "dave", method: "PATCH", url: own, contentType: strategic, body: `{"metadata":{"labels":{"kstack.io/tenant":"default"}}}`, want: "unknown format"},
		{what: "registry namespace: status written by its owner", who: "dave", method: "PATCH", url: own + "/status", contentType: merge, body: `{"status":{"repoCount":99}}`, want: "status is written by the platform's controllers only"},
		// spec.projects names the tenant's projects only, whatever the
		// encoding, and another tenant's reads as a missing one.
		{what: "registry namespace shared with the tenant's project (twin)", who: "dave", method: "POST", url: nss, contentType: "application/json", body: ns("atk-t2b", "Private", `"`+t2Project+`"`), allow: true, want: t2Project},
		{what: "registry namespace shared with another tenant's project", who: "dave", method: "POST", url: nss, contentType: "application/json", body: ns("atk-t2c", "Private", `"`+dfltProj+`"`), want: `spec.projects[0]: no project "` + dfltProj + `" in tenant t2`},
		{what: "registry namespace shared with a missing project", who: "dave", method: "POST", url: nss, contentType: "application/json", body: ns("atk-t2d", "Private", `"prj-none0000"`), want: `spec.projects[0]: no project "prj-none0000" in tenant t2`},
		{what: "registry namespace replaced onto another tenant's project", who: "dave", method: "PUT", url: own, contentType: "application/json",
			body: update(ns("atk-t2", "Private", `"`+t2Project+`","`+dfltProj+`"`)), want: `no project "` + dfltProj + `" in tenant t2`},
		{what: "registry namespace patched onto another tenant's project, merge patch", who: "dave", method: "PATCH", url: own, contentType: merge,
			body: `{"spec":{"projects":["` + t2Project + `","` + dfltProj + `"]}}`, want: `no project "` + dfltProj + `"`},
		{what: "registry namespace patched onto another tenant's project, JSON patch", who: "dave", method: "PATCH", url: own, contentType: jsonPatch,
			body: `[{"op":"add","path":"/spec/projects/-","value":"` + dfltProj + `"}]`, want: `no project "` + dfltProj + `"`},
		{what: "registry namespace patched onto another tenant's project, server-side apply", who: "dave", method: "PATCH", url: own + "?fieldManager=dave&force=true", contentType: apply,
			body: shared(t2Project + ", " + dfltProj), want: `no project "` + dfltProj + `"`},
		// Names are the registry's path segments.
		{what: "registry namespace with an invalid name", who: "dave", method: "POST", url: nss, contentType: "application/json", body: ns("Atk_T2", "Private", ""), want: "is not a registry namespace name"},
		{what: "registry namespace named v2", who: "dave", method: "POST", url: nss, contentType: "application/json", body: ns("v2", "Private", ""), want: "is reserved"},
		// Lists and watches.
		{what: "list registry namespaces (twin)", who: "dave", method: "GET", url: nss, allow: true, want: "atk-t2", hide: "atk-dflt"},
		{what: "list registry namespaces, label selector on another tenant", who: "dave", method: "GET", url: nss + "?labelSelector=kstack.io%2Ftenant%3Ddefault", allow: true, want: `"items":[]`, hide: "atk-dflt"},
		{what: "list registry namespaces, field selector on another's name", who: "dave", method: "GET", url: nss + "?fieldSelector=metadata.name%3Datk-dflt", want: hidden("atk-dflt")},
		{what: "watch registry namespaces (twin)", who: "dave", method: "GET", url: nss + watch, allow: true, want: "atk-t2", hide: "atk-dflt"},
		{what: "watch registry namespaces, label selector on another tenant", who: "dave", method: "GET", url: nss + watch + "&labelSelector=kstack.io%2Ftenant%3Ddefault", allow: true, hide: "atk-dflt"},
		{what: "the namespaces one may pull from (twin)", who: "dave", method: "GET", url: base + registryAPI + "portal", allow: true, want: "atk-t2", hide: "atk-dflt"},
		// The actions: another tenant's private namespace is a missing one.
		{what: "repositories of one's own (twin)", who: "dave", method: "GET", url: own + "/repositories", allow: true, want: `"pull":"` + host + `/atk-t2/app"`},
		{what: "repositories of another tenant's", who: "dave", method: "GET", url: theirs + "/repositories", want: hidden("atk-dflt")},
		{what: "repositories of a missing one", who: "dave", method: "GET", url: missing + "/repositories", want: hidden("atk-none")},
		{what: "repositories of another tenant's public one (twin)", who: "dave", method: "GET", url: pub + "/repositories", allow: true, want: `"name":"base"`},
		{what: "repositories of a private one of one's tenant, without rights", who: "mallory", method: "GET", url: theirs + "/repositories", want: "mallory may not read registry namespace atk-dflt"},
		{what: "repositories of it, by the administrator (twin)", who: "root", method: "GET", url: theirs + "/repositories", allow: true, want: `"name":"app"`},
		{what: "tags of one's own (twin)", who: "dave", method: "GET", url: own + "/repositories/app/tags", allow: true, want: `"name":"v1"`},
		{what: "tags of another tenant's", who: "dave", method: "GET", url: theirs + "/repositories/app/tags", want: hidden("atk-dflt")},
		{what: "the upload guide of one's own (twin)", who: "dave", method: "GET", url: own + "/guide", allow: true, want: "docker login " + host + " -u t2.dave"},
		{what: "the upload guide of another tenant's", who: "dave", method: "GET", url: theirs + "/guide", want: hidden("atk-dflt")},
		{what: "delete a tag of another tenant's", who: "dave", method: "DELETE", url: theirs + "/repositories/app:v1", want: hidden("atk-dflt")},
		{what: "delete a repository of another tenant's", who: "dave", method: "DELETE", url: theirs + "/repositories/app", want: hidden("atk-dflt")},
		{what: "delete a tag of another tenant's public one", who: "dave", method: "DELETE", url: pub + "/repositories/base:v1", want: "public, so readable only"},
		{what: "delete a tag of one's tenant's, without rights", who: "mallory", method: "DELETE", url: theirs + "/repositories/app:v1", want: "mallory may not"},
		// The garbage collection is the administrators'; a pull credential
		// is rotated by those who may update its project.
		{what: "garbage collection by a tenant's administrator", who: "dave", method: "POST", url: base + "/registry/gc", want: "only platform administrators"},
		{what: "garbage collection by the administrator (twin)", who: "root", method: "POST", url: base + "/registry/gc", allow: true, want: `"marked"`},
		{what: "rotate the pull credential of one's project (twin)", who: "dave", method: "POST", url: base + "/registry/projects/" + t2Project + "/pullcredential/rotate", allow: true, want: "kstack-pull-" + t2Project},
		{what: "rotate another tenant's project's pull credential", who: "dave", method: "POST", url: base + "/registry/projects/" + dfltProj + "/pullcredential/rotate", want: `no project "` + dfltProj + `"`},
		{what: "rotate a missing project's pull credential", who: "dave", method: "POST", url: base + "/registry/projects/prj-none0000/pullcredential/rotate", want: `no project "prj-none0000"`},
	})

	// A namespace that holds repositories is deleted only when forced (409:
	// not a row, which takes a conflict for a retry).
	if code, body := framework.Do(t, hc, "DELETE", own, dave, "", "", ""); code != http.StatusConflict || !strings.Contains(body, "registry namespace atk-t2 still holds 1 repository (e.g. app)") {
		t.Errorf("deleting a registry namespace that holds repositories: %d %s", code, body)
	}
	if code, body := framework.Do(t, hc, "GET", own+"/repositories/app/tags", dave, "", "", ""); code != http.StatusOK || !strings.Contains(body, `"name":"v1"`) {
		t.Errorf("the refused delete deleted the image: %d %s", code, body)
	}
	if code, body := framework.Do(t, hc, "DELETE", own+"?force=true", dave, "", "", ""); code != http.StatusOK {
		t.Errorf("a forced delete: %d %s", code, body)
	}
	// Nothing the refused rows sent was done: the default tenant's image
	// and namespace are as they were.
	if code, body := framework.Do(t, hc, "GET", theirs+"/repositories/app/tags", root, "", "", ""); code != http.StatusOK || !strings.Contains(body, `"name":"v1"`) {
		t.Errorf("the default tenant's image after the rows: %d %s", code, body)
	}
	if code, body := framework.Do(t, hc, "GET", theirs, root, "", "", ""); code != http.StatusOK || !strings.Contains(body, `"visibility":"Private"`) || strings.Contains(body, `"Public"`) {
		t.Errorf("the default tenant's namespace after the rows: %d %s", code, body)
	}
	if code, body := framework.Do(t, hc, "GET", nss+"/atk-t2c", root, "", "", ""); code != http.StatusNotFound {
		t.Errorf("a refused registry namespace was stored: %d %s", code, body)
	}
}
