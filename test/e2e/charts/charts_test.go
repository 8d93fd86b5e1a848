// Package charts holds the end-to-end tests of charts and Helm
// applications, on one kstack platform and one local member cluster: the
// real helm CLI logs in with an access key and pushes a chart; kstack
// installs it, upgrades it, shows the values diff, rolls it back and
// uninstalls it, while `helm list` through the platform's proxy sees the
// release at each step; the platform is killed in the middle of an upgrade
// and the release is not left pending; a chart repository served by the
// test is imported, synced and installed from; and every bad input gets
// its clear error, with nothing half-made.
package charts

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

const (
	adminPassword = "Adm1n-Passw0rd"
	alicePassword = "Passw0rd-Alice1"
	bobPassword   = "Passw0rd-Bob001"
	// staleAfter is how long an operation that stopped renewing stays
	// recorded before the leader recovers its release (45s by default).
	staleAfter = 8 * time.Second
)

// env is the shared platform and the actors of every test.
type env struct {
	k      *framework.Kstack
	p      *framework.Platform
	host   string // the registry: the gateway's host:port
	caFile string
	pool   *x509.CertPool

	cluster    string
	memberKC   string // the member's admin kubeconfig
	prj, prjB  string
	ns         string // alice's project's namespace in the member
	nsB        string // bob's
	alice, bob *framework.Kstack
	aliceKey   string
	helm       *helmCLI // alice's helm, logged in, with her proxy kubeconfig
	chartDir   string   // the packaged charts
}

// TestCharts runs every chart and application test on one platform.
func TestCharts(t *testing.T) {
	e := setUp(t)
	t.Run("helm push and the charts API", func(t *testing.T) { pushAndList(t, e) })
	t.Run("install, upgrade, diff, rollback, uninstall", func(t *testing.T) { lifecycle(t, e) })
	t.Run("bad input", func(t *testing.T) { badInput(t, e) })
	t.Run("a chart repository imported, synced and installed from", func(t *testing.T) { importRepo(t, e) })
	// Last: it kills the platform.
	t.Run("the platform killed in the middle of an upgrade", func(t *testing.T) { killedUpgrade(t, e) })
}

func setUp(t *testing.T) *env {
	k := framework.New(t)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD="+adminPassword)
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(t),
		"--platform-arg=--dial-allow=127.0.0.1/32", "--platform-arg=--app-operation-stale-after="+staleAfter.String())
	e := &env{k: k, p: p, host: strings.TrimPrefix(p.ConsoleURL, "https://"), ns: "shop", nsB: "other"}
	e.pool = x509.NewCertPool()
	e.pool.AppendCertsFromPEM(k.PlatformCA())
	e.caFile = filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(e.caFile, k.PlatformCA(), 0o644); err != nil {
		t.Fatal(err)
	}
	e.cluster, e.memberKC = k.ImportedCluster("m1", 1)
	framework.CreateUser(t, k, "alice", alicePassword)
	framework.CreateUser(t, k, "bob", bobPassword)
	project := func(name string) string {
		return strings.TrimSpace(k.MustRun("project", "create", name, "--cluster", e.cluster, "--cpu", "8", "--memory", "16Gi", "--pods", "60", "-o", "name"))
	}
	e.prj, e.prjB = project("shop"), project("other")
	k.MustRun("project", "add-member", e.prj, "alice")
	k.MustRun("project", "add-member", e.prjB, "bob")
	k.MustRun("namespace", "create", e.ns, "--project", e.prj, "--cluster", e.cluster, "--cpu", "4", "--memory", "8Gi", "--pods", "40")
	k.MustRun("namespace", "create", e.nsB, "--project", e.prjB, "--cluster", e.cluster, "--cpu", "1", "--memory", "1Gi", "--pods", "5")
	// The project's chart group: its members pull and push.
	k.MustRun("chart", "group", "create", "shop-charts", "--visibility", "Project", "--project", e.prj, "--description", "the shop's charts")

	e.alice = framework.Login(t, k, "default", "alice", alicePassword)
	e.bob = framework.Login(t, k, "default", "bob", bobPassword)
	e.aliceKey = strings.TrimSpace(e.alice.MustRun("apikey", "create", "--expires", "2h", "--description", "charts e2e"))
	if !strings.HasPrefix(e.aliceKey, "ksk_") {
		t.Fatalf("apikey create printed %q, want a ksk_ key", e.aliceKey)
	}
	kc := filepath.Join(t.TempDir(), "alice.kubeconfig")
	e.alice.MustRun("kubeconfig", "--cluster", e.cluster, "-f", kc)
	e.helm = newHelm(t, kc, e.caFile)
	e.chartDir = t.TempDir()
	for _, v := range []string{"0.1.0", "0.2.0"} {
		e.helm.mustRun(t, "package", writeChart(t, "web", v, webTemplates), "-d", e.chartDir)
	}
	return e
}

// helmCLI runs the real helm binary with homes of its own.
type helmCLI struct {
	bin, kubeconfig, caFile string
	env                     []string
}

func newHelm(t *testing.T, kubeconfig, caFile string) *helmCLI {
	home := t.TempDir()
	return &helmCLI{bin: framework.Helm(t), kubeconfig: kubeconfig, caFile: caFile, env: append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"), "KUBECONFIG="+kubeconfig)}
}

func (h *helmCLI) run(stdin string, args ...string) (string, string, error) {
	cmd := exec.Command(h.bin, args...)
	cmd.Env = h.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func (h *helmCLI) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, err := h.run("", args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, errs)
	}
	return out
}

// release is one row of `helm list -o json`.
type release struct {
	Name, Namespace, Revision, Status, Chart string
}

// list is `helm list -a` in namespace, through the platform's proxy.
func (h *helmCLI) list(t *testing.T, namespace string) map[string]release {
	t.Helper()
	m, err := h.tryList(namespace)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tryList is list, answering its error (the platform restarting).
func (h *helmCLI) tryList(namespace string) (map[string]release, error) {
	out, errs, err := h.run("", "list", "-a", "-n", namespace, "-o", "json")
	if err != nil {
		return nil, fmt.Errorf("helm list -n %s: %v: %s", namespace, err, errs)
	}
	var rs []release
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		return nil, fmt.Errorf("helm list -o json: %v\n%s", err, out)
	}
	m := map[string]release{}
	for _, r := range rs {
		m[r.Name] = r
	}
	return m, nil
}

// wantRelease checks helm list's row of name.
func (h *helmCLI) wantRelease(t *testing.T, namespace, name, revision, status, chart string) {
	t.Helper()
	r, ok := h.list(t, namespace)[name]
	if !ok || r.Revision != revision || r.Status != status || r.Chart != chart {
		t.Fatalf("helm list -n %s: %s is %+v (present %v), want revision %s, %s, %s", namespace, name, r, ok, revision, status, chart)
	}
}

// webTemplates is the chart the lifecycle installs: a Deployment of
// replicaCount pods (on nodeSelector's nodes), a ConfigMap of the message
// and a Secret of the password.
var webTemplates = map[string]string{
	"values.yaml": `replicaCount: 1
message: hello
password: ""
nodeSelector: {}
`,
	"values.schema.json": `{
  "$schema": "https://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "replicaCount": {"type": "integer", "minimum": 0, "maximum": 10},
    "message": {"type": "string"},
    "password": {"type": "string"},
    "nodeSelector": {"type": "object"}
  }
}
`,
	"README.md": "# web\n\nA web server for the shop.\n",
	"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      nodeSelector: {{ toJson .Values.nodeSelector }}
      containers:
      - name: web
        image: registry.example/web:{{ .Chart.AppVersion }}
        resources:
          requests: {cpu: 10m, memory: 16Mi}
          limits: {cpu: 100m, memory: 64Mi}
`,
	"templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  message: {{ .Values.message | quote }}
`,
	"templates/secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-password
stringData:
  password: {{ .Values.password | quote }}
`,
}

// writeChart writes a chart directory of files and answers its path.
func writeChart(t *testing.T, name, version string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	all := map[string]string{"Chart.yaml": fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\nappVersion: %q\ndescription: %s for the e2e tests\n", name, version, version, name)}
	for k, v := range files {
		all[k] = v
	}
	for path, data := range all {
		p := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (e *env) tgz(name, version string) string {
	return filepath.Join(e.chartDir, name+"-"+version+".tgz")
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

// app reads an App as k sees it, with `kstack app get -o json`.
func app(t *testing.T, k *framework.Kstack, project, name string) map[string]any {
	t.Helper()
	var a map[string]any
	out := k.MustRun("app", "get", name, "--project", project, "-o", "json")
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("kstack app get -o json: %v\n%s", err, out)
	}
	return a
}

// field reads a dotted path of a decoded object.
func field(obj map[string]any, path string) any {
	var cur any = obj
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func itoa(n int) string { return strconv.Itoa(n) }
