// Package seedcalls sends the calls of TKEStack's API guide (seed 004
// §7.1) and identity-provider guide (§8.3.1) as the guide writes them, read
// from testdata/ verbatim, to a real platform with a real member cluster:
// a TKEStack user's scripts work once their address, scheme and CA change
// (docs/tkestack-api.md).
package seedcalls

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

const adminPassword = "Adm1n-Passw0rd"

// call is one curl command of the guide.
type call struct {
	method, url string
	header      http.Header
	body        string
}

// parseCurl reads a curl command as the guide writes it: quoted words,
// backslash line continuations, -X/-XMETHOD, -H and -d.
func parseCurl(t *testing.T, text string) call {
	t.Helper()
	words := shellWords(t, text)
	if len(words) == 0 || words[0] != "curl" {
		t.Fatalf("not a curl command: %q", text)
	}
	c := call{method: "GET", header: http.Header{}}
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-X" || w == "-H" || w == "-d":
			if i+1 >= len(words) {
				t.Fatalf("%s without a value in %q", w, text)
			}
			i++
			switch w {
			case "-X":
				c.method = words[i]
			case "-H":
				k, v, _ := strings.Cut(words[i], ":")
				c.header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			case "-d":
				c.body = words[i]
				if c.method == "GET" {
					c.method = "POST"
				}
			}
		case strings.HasPrefix(w, "-X"):
			c.method = strings.TrimPrefix(w, "-X")
		case strings.HasPrefix(w, "http"):
			c.url = w
		default:
			t.Fatalf("unknown curl word %q in %q", w, text)
		}
	}
	return c
}

// shellWords splits like a POSIX shell: single and double quotes, and a
// backslash before a newline joins lines. An empty quoted word (”) next
// to another is part of it, as the guide's §2.3 writes.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0 && ch == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(ch)
		case ch == '\'' || ch == '"':
			quote, in = ch, true
		case ch == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i++
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated quote in %q", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// stripAnnotations removes the guide's // annotations, which are not JSON:
// from // outside a string to the end of the line.
func stripAnnotations(s string) string {
	var out strings.Builder
	for _, line := range strings.Split(s, "\n") {
		inString := false
		cut := len(line)
		for i := 0; i < len(line); i++ {
			switch {
			case line[i] == '\\' && inString:
				i++
			case line[i] == '"':
				inString = !inString
			case !inString && strings.HasPrefix(line[i:], "//"):
				cut = i
				i = len(line)
			}
		}
		out.WriteString(strings.TrimRight(line[:cut], " ") + "\n")
	}
	return out.String()
}

// load reads testdata/NAME.curl (and NAME.body, when the guide shows the
// body apart) and fills in the placeholders.
func load(t *testing.T, name string, fill map[string]string) call {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", name+".curl"))
	if err != nil {
		t.Fatal(err)
	}
	// §2.3 opens its address with two quotes and closes it with one, and
	// leaves its body's quote open, which no shell reads as the guide
	// means: read the two as one, and close the body.
	cmd := strings.Replace(strings.TrimSpace(string(text)), "curl ''http", "curl 'http", 1)
	if strings.Count(cmd, "'")%2 == 1 {
		cmd += "'"
	}
	c := parseCurl(t, cmd)
	if body, err := os.ReadFile(filepath.Join("testdata", name+".body")); err == nil {
		c.body = stripAnnotations(string(body))
		if !json.Valid([]byte(c.body)) {
			t.Fatalf("%s.body is not JSON once its annotations are removed:\n%s", name, c.body)
		}
	}
	r := strings.NewReplacer(flatten(fill)...)
	c.url, c.body = r.Replace(c.url), r.Replace(c.body)
	for k, vs := range c.header {
		for i := range vs {
			vs[i] = r.Replace(vs[i])
		}
		c.header[k] = vs
	}
	return c
}

func flatten(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k, v)
	}
	return out
}

// send sends a call and decodes its JSON answer.
func send(t *testing.T, hc *http.Client, c call) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = c.header
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %v", c.method, c.url, resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// field reads a dotted path of a decoded answer ("items.0.metadata.name").
func field(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// expect checks an answer's status and fields (want "" only asks that the
// field be there).
func expect(t *testing.T, what string, code, wantCode int, out map[string]any, fields map[string]string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("%s: %d, want %d: %v", what, code, wantCode, out)
		return
	}
	for path, want := range fields {
		got := field(out, path)
		if got == nil || want != "" && fmt.Sprint(got) != want {
			t.Errorf("%s: %s is %v, want %q", what, path, got, want)
		}
	}
}

func TestSeedCalls(t *testing.T) {
	k := framework.New(t)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD="+adminPassword)
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(t))
	hc, _ := k.PlatformHTTP()
	cls, memberKC := k.ImportedCluster("seed", 1)
	admin := framework.Login(t, k, "default", "admin", adminPassword)
	// §1.1: an access key (the guide makes it in the console).
	key := strings.TrimSpace(admin.MustRun("apikey", "create", "--expires", "2h", "--description", "seed calls"))
	var made struct{ Metadata struct{ Name string } }
	if err := json.Unmarshal([]byte(admin.MustRun("project", "create", "seed", "--cluster", cls, "--cpu", "4", "-o", "json")), &made); err != nil || made.Metadata.Name == "" {
		t.Fatalf("project create -o json: %v %+v", err, made)
	}
	prj := made.Metadata.Name
	admin.MustRun("project", "add-member", prj, "admin", "--role", "project-admin")
	admin.MustRun("namespace", "create", "web", "--project", prj, "--cluster", cls, "--cpu", "1")
	// The workloads §2.1 updates, made in the member directly.
	for _, kind := range []string{"deployment", "statefulset", "daemonset"} {
		f := filepath.Join(t.TempDir(), kind+".yaml")
		if err := os.WriteFile(f, []byte(workload(kind)), 0o600); err != nil {
			t.Fatal(err)
		}
		k.MustKubectl(memberKC, "apply", "-f", f)
	}

	base := strings.TrimSuffix(p.ConsoleURL, "/")
	fill := map[string]string{
		"http://console.tke.com:8080": base, "https://{auth_address}": base,
		"xxxxxxx": key, "访问凭证": key, "{admin_token}": key,
		"cls-xxx": cls, "所属集群": cls, "prj-xxx": prj,
		"命名空间": "default", "工作负载名称": "seed", "容器名称": "app", "容器镜像": "nginx:1.27",
	}

	t.Run("7.1 1.2 list clusters", func(t *testing.T) {
		code, out := send(t, hc, load(t, "7.1-1.2-list-clusters", fill))
		expect(t, "clusters", code, 200, out, map[string]string{"kind": "ClusterList", "apiVersion": "platform.tkestack.io/v1", "metadata.resourceVersion": ""})
		if !strings.Contains(fmt.Sprint(out["items"]), cls) {
			t.Errorf("the clusters do not list %s: %v", cls, out["items"])
		}
	})
	t.Run("7.1 1.3 a cluster's namespaces", func(t *testing.T) {
		code, out := send(t, hc, load(t, "7.1-1.3-cluster-namespaces", fill))
		expect(t, "namespaces", code, 200, out, map[string]string{"kind": "NamespaceList", "apiVersion": "v1"})
		if s := fmt.Sprint(out["items"]); !strings.Contains(s, "kube-system") || !strings.Contains(s, "default") {
			t.Errorf("the member's namespaces lack kube-system or default: %.500s", s)
		}
	})
	for _, kind := range []string{"deployments", "statefulsets", "daemonsets"} {
		t.Run("7.1 2.1 update the image of "+kind, func(t *testing.T) {
			f := map[string]string{"工作负载类型": kind}
			for k, v := range fill {
				f[k] = v
			}
			code, out := send(t, hc, load(t, "7.1-2.1-patch-workload", f))
			expect(t, kind, code, 200, out, map[string]string{"metadata.name": "seed", "spec.template.spec.containers.0.name": "app",
				"spec.template.spec.containers.0.image": "nginx:1.27"})
			if img := k.MustKubectl(memberKC, "get", kind, "seed", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "nginx:1.27" {
				t.Errorf("%s seed in the member has image %q", kind, img)
			}
		})
	}
	t.Run("7.1 2.2 get a TApp and 2.3 update its image", func(t *testing.T) {
		admin.MustRun("addon", "install", cls, "TApp", "--wait")
		f := filepath.Join(t.TempDir(), "tapp.yaml")
		if err := os.WriteFile(f, []byte(tappManifest), 0o600); err != nil {
			t.Fatal(err)
		}
		k.MustKubectl(memberKC, "apply", "-f", f)
		code, out := send(t, hc, load(t, "7.1-2.2-get-tapp", fill))
		expect(t, "get", code, 200, out, map[string]string{"kind": "TApp", "apiVersion": "apps.tkestack.io/v1", "metadata.name": "seed",
			"metadata.namespace": "default", "spec.template.spec.containers.0.name": "app"})
		code, out = send(t, hc, load(t, "7.1-2.3-patch-tapp", fill))
		expect(t, "patch", code, 200, out, map[string]string{"kind": "TApp", "metadata.name": "seed",
			"spec.template.spec.containers.0.image": "nginx:1.27", "spec.template.spec.containers.0.resources.limits.memory": "48Mi"})
		framework.Eventually(t, 2*time.Minute, "the TApp's pod on nginx:1.27", func() error {
			img, err := k.Kubectl(memberKC, "get", "pod", "seed-0", "-o", "jsonpath={.spec.containers[0].image}")
			if err != nil || img != "nginx:1.27" {
				return fmt.Errorf("%q %v", img, err)
			}
			return nil
		})
		// Decided as the TApp in the member: a name that is not a TApp
		// there is the member's 404, and a missing name is refused here.
		f2 := map[string]string{}
		for k, v := range fill {
			f2[k] = v
		}
		f2["工作负载名称"] = "nothere"
		if code, out := send(t, hc, load(t, "7.1-2.2-get-tapp", f2)); code != 404 || !strings.Contains(fmt.Sprint(out["message"]), `"nothere" not found`) {
			t.Errorf("a TApp that does not exist: %d %v", code, out)
		}
		f2["工作负载名称"] = ""
		if code, out := send(t, hc, load(t, "7.1-2.2-get-tapp", f2)); code != 400 || !strings.Contains(fmt.Sprint(out["message"]), "give the TApp's name") {
			t.Errorf("no name: %d %v", code, out)
		}
		// Bad input in the seed's PATCH is refused by the member, with its
		// reason, and nothing of it is stored.
		bad := load(t, "7.1-2.3-patch-tapp", fill)
		bad.body = `{"spec":{"statuses":{"0":"Stopped"}}}`
		if code, out := send(t, hc, bad); code != 422 || !strings.Contains(fmt.Sprint(out["message"]), `spec.statuses: instance 0 is "Stopped": an instance can only be set Running or Killed`) {
			t.Errorf("a bad status: %d %v", code, out)
		}
		if got := k.MustKubectl(memberKC, "get", "tapp", "seed", "-o", "jsonpath={.spec.statuses}"); got != "" {
			t.Errorf("the refused patch was stored: statuses %s", got)
		}
	})
	t.Run("7.1 4.1 portal", func(t *testing.T) {
		code, out := send(t, hc, load(t, "7.1-4.1-portal", fill))
		expect(t, "portal", code, 200, out, map[string]string{"kind": "Portal", "apiVersion": "business.tkestack.io/v1", "administrator": "true",
			"projects.0.name": prj, "projects.0.role": "project-admin"})
	})
	t.Run("7.1 4.2 a project's namespaces", func(t *testing.T) {
		code, out := send(t, hc, load(t, "7.1-4.2-project-namespaces", fill))
		expect(t, "namespaces", code, 200, out, map[string]string{"kind": "NamespaceList", "apiVersion": "business.tkestack.io/v1",
			"items.0.metadata.namespace": prj, "items.0.spec.namespace": "web", "items.0.spec.clusterName": cls, "items.0.spec.projectName": prj})
	})
	t.Run("7.1 4.3 a project", func(t *testing.T) {
		code, out := send(t, hc, load(t, "7.1-4.3-project", fill))
		expect(t, "project", code, 200, out, map[string]string{"kind": "Project", "apiVersion": "business.tkestack.io/v1", "metadata.name": prj,
			"spec.displayName": "seed", "spec.clusters.0.name": cls, "spec.tenantID": "default"})
	})
	t.Run("8.3.1 identity providers", func(t *testing.T) {
		// The tenant named twice, differently: refused, nothing made.
		bad := load(t, "8.3.1-c-create-idp", fill)
		bad.body = strings.Replace(bad.body, `"name": "ldap-test",`, `"name": "ldap-other",`, 1)
		code, out := send(t, hc, bad)
		if msg := fmt.Sprint(out["message"]); code != 422 || !strings.Contains(msg, `spec.name "ldap-other" and metadata.name "ldap-test" differ`) {
			t.Errorf("a body naming two tenants: %d %v", code, out)
		}
		if out, err := k.Kubectl(p.Kubeconfig, "get", "--ignore-not-found", "-o", "name", "identityproviders.auth.tkestack.io", "ldap-test"); err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("a refused provider was stored: %s %v", out, err)
		}
		code, out = send(t, hc, load(t, "8.3.1-c-create-idp", fill))
		expect(t, "create", code, 201, out, map[string]string{"kind": "IdentityProvider", "metadata.name": "ldap-test", "spec.name": "ldap-test",
			"spec.type": "ldap", "spec.administrators.0": "jane", "spec.config": ""})
		// The bind password went to a Secret, and is not served back.
		if cfg := fmt.Sprint(field(out, "spec.config")); strings.Contains(cfg, "bindPW") || !strings.Contains(cfg, "cn=admin,dc=example,dc=org") {
			t.Errorf("the provider's config as served: %s", cfg)
		}
		secret := k.MustKubectl(p.Kubeconfig, "get", "secret", "-n", "kstack-system", "idp-ldap-test", "-o", "jsonpath={.data.bindPW}")
		if secret != "YWRtaW4=" { // "admin"
			t.Errorf("the bind password's Secret holds %q", secret)
		}
		k.MustKubectl(p.Kubeconfig, "get", "policybindings.auth.tkestack.io", "ldap-test.idp-administrators")

		code, out = send(t, hc, load(t, "8.3.1-d-delete-idp", fill))
		expect(t, "delete", code, 200, out, nil)
		// What the provider owned goes with it.
		framework.Eventually(t, time.Minute, "the provider's Secret and binding deleted", func() error {
			for _, o := range [][]string{{"secret", "-n", "kstack-system", "idp-ldap-test"}, {"policybindings.auth.tkestack.io", "ldap-test.idp-administrators"}, {"identityproviders.auth.tkestack.io", "ldap-test"}} {
				if out, err := k.Kubectl(p.Kubeconfig, append([]string{"get", "--ignore-not-found", "-o", "name"}, o...)...); err != nil || strings.TrimSpace(out) != "" {
					return fmt.Errorf("%v still there: %s %v", o, out, err)
				}
			}
			return nil
		})
	})
}

// workload is a manifest of kind named seed, with one container app.
func workload(kind string) string {
	spec := `
  selector: {matchLabels: {app: seed-` + kind + `}}
  template:
    metadata: {labels: {app: seed-` + kind + `}}
    spec: {containers: [{name: app, image: nginx:1.25}]}`
	if kind == "statefulset" {
		spec += "\n  serviceName: seed"
	}
	return "apiVersion: apps/v1\nkind: " + map[string]string{"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet"}[kind] +
		"\nmetadata: {name: seed, namespace: default}\nspec:" + spec + "\n"
}

// tappManifest is the TApp §2.2 reads and §2.3 updates.
const tappManifest = `apiVersion: apps.tkestack.io/v1
kind: TApp
metadata: {name: seed, namespace: default}
spec:
  replicas: 1
  template:
    metadata: {labels: {app: seed-tapp}}
    spec:
      containers: [{name: app, image: "nginx:1.25"}]
`
