package charts

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

// importRepo: a chart repository served by the test (index.yaml made by
// helm repo index, behind basic auth) is imported with its password,
// synced on demand, and one of its charts installed from it.
func importRepo(t *testing.T, e *env) {
	const user, password = "mirror", "Mirr0r-Passw0rd"
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String() + "/charts"
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		http.StripPrefix("/charts/", http.FileServer(http.Dir(dir))).ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	for _, v := range []string{"1.0.0", "1.1.0"} {
		e.helm.mustRun(t, "package", writeChart(t, "hello", v, map[string]string{
			"values.yaml": "greeting: hi\n",
			"templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data:
  greeting: {{ .Values.greeting | quote }}
`}), "-d", dir)
	}
	e.helm.mustRun(t, "repo", "index", dir, "--url", base)

	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.k.MustRun("chart", "group", "create", "mirror", "--import-url", base, "--import-username", user, "--import-password-file", pwFile,
		"--sync-interval", "0s", "--visibility", "Project", "--project", e.prj)
	defer e.k.MustRun("chart", "group", "delete", "mirror", "--force")
	// The password went into a Secret: the group never shows it.
	for _, out := range []string{e.k.MustRun("chart", "group", "get", "mirror", "-o", "yaml"),
		e.k.MustKubectl(e.p.Kubeconfig, "get", "chartgroups.registry.tkestack.io", "mirror", "-o", "yaml")} {
		if strings.Contains(out, password) {
			t.Fatalf("the chart group shows the repository's password:\n%s", out)
		}
	}

	out := e.k.MustRun("chart", "group", "sync", "mirror")
	if !strings.Contains(out, "2") {
		t.Fatalf("kstack chart group sync mirror:\n%s", out)
	}
	if out := e.alice.MustRun("chart", "versions", "mirror/hello"); !strings.Contains(out, "1.0.0") || !strings.Contains(out, "1.1.0") {
		t.Fatalf("the imported chart's versions:\n%s", out)
	}
	// Imported groups are written by their sync alone.
	if out, errs, err := e.helm.run("", "push", e.tgz("web", "0.1.0"), "oci://"+e.host+"/mirror", "--ca-file", e.caFile); err == nil {
		t.Fatalf("helm push into an imported group succeeded: %s%s", out, errs)
	}

	e.alice.MustRun("app", "install", "hello", "--chart", "mirror/hello", "--version", "1.0.0", "--cluster", e.cluster, "--namespace", e.ns,
		"--set", "greeting=bonjour")
	e.helm.wantRelease(t, e.ns, "hello", "1", "deployed", "hello-1.0.0")
	if got := e.helmKubectl(t, "get", "configmap", "hello", "-n", e.ns, "-o", "jsonpath={.data.greeting}"); got != "bonjour" {
		t.Fatalf("the imported chart's ConfigMap says %q", got)
	}
	e.alice.MustRun("app", "uninstall", "hello")
	if _, ok := e.helm.list(t, e.ns)["hello"]; ok {
		t.Fatal("helm list still shows hello after the uninstall")
	}
}

// killedUpgrade: the platform is killed while an upgrade waits for pods
// that cannot be scheduled, leaving the release pending-upgrade (helm#8987).
// A second upgrade meanwhile is refused, naming the running one. After the
// supervisor restarts the platform, the release is recovered (failed, not
// pending), the App says the upgrade was interrupted, and the next upgrade
// works.
func killedUpgrade(t *testing.T, e *env) {
	e.alice.MustRun("app", "install", "stuck", "--chart", "shop-charts/web", "--version", "0.1.0", "--cluster", e.cluster, "--namespace", e.ns, "--wait")
	e.helm.wantRelease(t, e.ns, "stuck", "1", "deployed", "web-0.1.0")

	up := exec.Command(e.alice.Bin, "--data-dir", e.alice.DataDir, "app", "upgrade", "stuck", "--version", "0.2.0", "--set", "nodeSelector.kstack-test=nowhere", "--wait", "--timeout", "10m")
	up.Env = append(os.Environ(), e.alice.Env...)
	var upOut strings.Builder
	up.Stdout, up.Stderr = &upOut, &upOut
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	upDone := make(chan error, 1)
	go func() { upDone <- up.Wait() }()
	defer func() {
		if up.ProcessState == nil {
			_ = up.Process.Kill()
		}
	}()
	framework.Eventually(t, 2*time.Minute, "the release pending-upgrade", func() error {
		if r := e.helm.list(t, e.ns)["stuck"]; r.Status != "pending-upgrade" {
			return errorf("stuck is %+v", r)
		}
		return nil
	})
	if stderr := e.alice.MustFail("app", "upgrade", "stuck", "--set", "message=meanwhile"); !strings.Contains(stderr, "busy: upgrade by alice") {
		t.Fatalf("an upgrade during another: %s", stderr)
	}

	pid := platformPID(t, e)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-upDone:
		if err == nil {
			t.Fatalf("the upgrade whose platform was killed succeeded:\n%s", upOut.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the upgrade's client did not notice its platform died")
	}

	// The supervisor restarts the platform; its leader recovers the release.
	framework.Eventually(t, 4*time.Minute, "the release recovered", func() error {
		rs, err := e.helm.tryList(e.ns)
		if err != nil {
			return err
		}
		if r := rs["stuck"]; r.Status != "failed" {
			return errorf("stuck is %+v", r)
		}
		var a map[string]any
		r := e.alice.Run("app", "get", "stuck", "--project", e.prj, "-o", "json")
		if err := json.Unmarshal([]byte(r.Stdout), &a); r.Err != nil || err != nil {
			return errorf("kstack app get stuck: %v %v %s", r.Err, err, r.Stderr)
		}
		if field(a, "status.lastOperation.result") != "Interrupted" || field(a, "status.operation") != nil {
			return errorf("the App's status: %v", a["status"])
		}
		return nil
	})
	a := app(t, e.alice, e.prj, "stuck")
	if msg, _ := field(a, "status.message").(string); !strings.Contains(msg, "upgrade by alice was interrupted") {
		t.Fatalf("the App's message after the recovery: %q", msg)
	}
	// The next upgrade goes on from it, with values that fit the nodes.
	// (Helm merges three ways from the last deployed revision: the failed
	// revision's nodeSelector stays in the member unless the values set
	// that key again.)
	e.k.MustKubectl(e.memberKC, "label", "nodes", "--all", "kstack-test=here")
	e.alice.MustRun("app", "upgrade", "stuck", "--version", "0.2.0", "--set", "message=after", "--set", "nodeSelector.kstack-test=here", "--wait", "--timeout", "2m")
	e.helm.wantRelease(t, e.ns, "stuck", "3", "deployed", "web-0.2.0")
	e.alice.MustRun("app", "uninstall", "stuck")
}

// platformPID is the pid of the platform process the supervisor runs.
func platformPID(t *testing.T, e *env) int {
	for _, pid := range e.k.Processes() {
		cmdline, err := os.ReadFile(filepath.Join("/proc", itoa(pid), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), "platform\x00run\x00") {
			return pid
		}
	}
	t.Fatal("no platform process")
	return 0
}
