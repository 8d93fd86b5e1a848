package charts

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

// pushAndList: alice logs the real helm CLI in with her access key and
// pushes two versions of a chart into her project's chart group; the
// charts API lists them with their README, values and schema; bob, of
// another project, does not see them.
func pushAndList(t *testing.T, e *env) {
	// A wrong key is refused at login (the positive twin follows).
	if out, errs, err := e.helm.run("ksk_not-a-key\n", "registry", "login", e.host, "--username", "alice", "--password-stdin", "--ca-file", e.caFile); err == nil {
		t.Fatalf("helm registry login with a wrong key succeeded: %s%s", out, errs)
	}
	if out, errs, err := e.helm.run(e.aliceKey+"\n", "registry", "login", e.host, "--username", "alice", "--password-stdin", "--ca-file", e.caFile); err != nil {
		t.Fatalf("helm registry login with alice's access key: %v\n%s%s", err, out, errs)
	}
	for _, v := range []string{"0.1.0", "0.2.0"} {
		e.helm.mustRun(t, "push", e.tgz("web", v), "oci://"+e.host+"/shop-charts", "--ca-file", e.caFile)
	}

	out := e.alice.MustRun("chart", "list", "shop-charts")
	if !strings.Contains(out, "web") || !strings.Contains(out, "0.2.0") {
		t.Fatalf("kstack chart list shop-charts after the pushes:\n%s", out)
	}
	out = e.alice.MustRun("chart", "versions", "shop-charts/web")
	if !strings.Contains(out, "0.1.0") || !strings.Contains(out, "0.2.0") || strings.Index(out, "0.2.0") > strings.Index(out, "0.1.0") {
		t.Fatalf("kstack chart versions shop-charts/web, newest first:\n%s", out)
	}
	if out := e.alice.MustRun("chart", "show", "shop-charts/web", "--version", "0.1.0", "--readme"); !strings.Contains(out, "A web server for the shop.") {
		t.Fatalf("kstack chart show --readme:\n%s", out)
	}
	if out := e.alice.MustRun("chart", "show", "shop-charts/web", "--values"); !strings.Contains(out, "replicaCount: 1") {
		t.Fatalf("kstack chart show --values:\n%s", out)
	}
	if out := e.alice.MustRun("chart", "show", "shop-charts/web", "--schema"); !strings.Contains(out, `"maximum": 10`) {
		t.Fatalf("kstack chart show --schema:\n%s", out)
	}
	// The group is the project's: bob sees none of it; alice (the twin) does.
	if out := e.bob.MustRun("chart", "list", "-o", "json"); strings.Contains(out, "shop-charts") {
		t.Fatalf("bob, of another project, lists shop's charts:\n%s", out)
	}
	if out := e.alice.MustRun("chart", "list", "-o", "json"); !strings.Contains(out, "shop-charts") {
		t.Fatalf("alice does not list her project's charts:\n%s", out)
	}
	if stderr := e.bob.MustFail("chart", "versions", "shop-charts/web"); !strings.Contains(stderr, "bob may not pull in chart group shop-charts") {
		t.Fatalf("bob reading shop's chart versions: %s", stderr)
	}
}

// lifecycle: kstack installs the chart (with a secret value), upgrades it,
// shows the values diff, rolls it back and uninstalls it; helm list
// through alice's proxy kubeconfig sees each step.
func lifecycle(t *testing.T, e *env) {
	secrets := filepath.Join(t.TempDir(), "secrets.yaml")
	if err := os.WriteFile(secrets, []byte("password: s3cr3t-Value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A dry run renders, and installs nothing.
	out := e.alice.MustRun("app", "install", "web", "--chart", "shop-charts/web", "--version", "0.1.0", "--cluster", e.cluster, "--namespace", e.ns,
		"--set", "message=one", "--dry-run")
	if !strings.Contains(out, "kind: Deployment") || !strings.Contains(out, `message: "one"`) {
		t.Fatalf("kstack app install --dry-run prints no manifest:\n%s", out)
	}
	if _, ok := e.helm.list(t, e.ns)["web"]; ok {
		t.Fatal("a dry run installed a release")
	}

	e.alice.MustRun("app", "install", "web", "--chart", "shop-charts/web", "--version", "0.1.0", "--cluster", e.cluster, "--namespace", e.ns,
		"--set", "message=one", "--secret-values", secrets, "--wait", "--timeout", "3m")
	e.helm.wantRelease(t, e.ns, "web", "1", "deployed", "web-0.1.0")
	a := app(t, e.alice, e.prj, "web")
	if field(a, "status.phase") != "Succeeded" || field(a, "status.revision") != float64(1) {
		t.Fatalf("the App after its install: %v", a["status"])
	}
	// The secret value is in the release, not in the App.
	raw := e.k.MustKubectl(e.p.Kubeconfig, "get", "apps.application.tkestack.io", "web", "-n", e.prj, "-o", "json")
	if strings.Contains(raw, "s3cr3t-Value") || strings.Contains(e.alice.MustRun("app", "get", "web", "-o", "yaml"), "s3cr3t-Value") {
		t.Fatalf("the App holds its secret value:\n%s", raw)
	}
	if keys, _ := field(a, "spec.values.secretKeys").([]any); len(keys) != 1 || keys[0] != "password" {
		t.Fatalf("spec.values.secretKeys = %v, want [password]", field(a, "spec.values.secretKeys"))
	}
	pw := e.helmKubectl(t, "get", "secret", "web-password", "-n", e.ns, "-o", "jsonpath={.data.password}")
	if dec, _ := base64.StdEncoding.DecodeString(pw); string(dec) != "s3cr3t-Value" {
		t.Fatalf("the release's Secret holds %q, want the secret value", dec)
	}

	// Its resources, with their state.
	framework.Eventually(t, 2*time.Minute, "the release's resources Ready", func() error {
		out := e.alice.MustRun("app", "resources", "web")
		for _, want := range []string{"Deployment", "ConfigMap", "Secret"} {
			if !strings.Contains(out, want) {
				return errorf("no %s in:\n%s", want, out)
			}
		}
		if strings.Contains(out, "NotReady") || strings.Contains(out, "Missing") {
			return errorf("not all Ready:\n%s", out)
		}
		return nil
	})

	// The console shows the chart, the app and its resources, as alice.
	cc := framework.ConsoleLogin(t, e.p.ConsoleURL, "alice", alicePassword)
	for _, page := range []struct{ path, want string }{
		{"/console/business/charts", "shop-charts"},
		{"/console/business/chartgroups/shop-charts/charts/web?version=0.1.0", "A web server for the shop."},
		{"/console/business/apps?project=" + e.prj, "web"},
		{"/console/business/projects/" + e.prj + "/apps/web?tab=resources", "web-config"},
	} {
		code, body := cc.Get(t, page.path)
		if code != http.StatusOK || !strings.Contains(body, page.want) || strings.Contains(body, "s3cr3t-Value") {
			t.Fatalf("console %s: %d, want %q and no secret value:\n%s", page.path, code, page.want, body)
		}
	}

	// Upgrade: a new version and message; the secret value stays.
	e.alice.MustRun("app", "upgrade", "web", "--version", "0.2.0", "--set", "message=two", "--wait")
	e.helm.wantRelease(t, e.ns, "web", "2", "deployed", "web-0.2.0")
	if out := e.helmKubectl(t, "get", "configmap", "web-config", "-n", e.ns, "-o", "jsonpath={.data.message}"); out != "two" {
		t.Fatalf("the upgraded ConfigMap says %q", out)
	}
	if pw := e.helmKubectl(t, "get", "secret", "web-password", "-n", e.ns, "-o", "jsonpath={.data.password}"); pw != base64.StdEncoding.EncodeToString([]byte("s3cr3t-Value")) {
		t.Fatal("the upgrade lost the stored secret value")
	}

	// History and the values diff, secret values masked.
	hist := e.alice.MustRun("app", "history", "web")
	if !strings.Contains(hist, "superseded") || !strings.Contains(hist, "deployed") {
		t.Fatalf("kstack app history:\n%s", hist)
	}
	diff := e.alice.MustRun("app", "diff", "web", "--from", "1", "--to", "2")
	if !strings.Contains(diff, "-message: one") || !strings.Contains(diff, "+message: two") {
		t.Fatalf("kstack app diff --from 1 --to 2:\n%s", diff)
	}
	if strings.Contains(diff, "s3cr3t") {
		t.Fatalf("the diff shows the secret value:\n%s", diff)
	}
	if !strings.Contains(e.alice.MustRun("app", "diff", "web", "--from", "1", "--to", "2", "-o", "json"), "(secret)") {
		t.Fatal("the diff's values do not mark the secret value")
	}

	// Rollback to revision 1: a third revision, of 0.1.0 with "one".
	e.alice.MustRun("app", "rollback", "web", "--revision", "1")
	e.helm.wantRelease(t, e.ns, "web", "3", "deployed", "web-0.1.0")
	a = app(t, e.alice, e.prj, "web")
	if field(a, "spec.chart.chartVersion") != "0.1.0" || !strings.Contains(field(a, "spec.values.rawValues").(string), "message: one") ||
		field(a, "status.rollbackRevision") != float64(1) {
		t.Fatalf("the App after the rollback: spec %v status %v", a["spec"], a["status"])
	}
	if out := e.helmKubectl(t, "get", "configmap", "web-config", "-n", e.ns, "-o", "jsonpath={.data.message}"); out != "one" {
		t.Fatalf("the rolled-back ConfigMap says %q", out)
	}

	// Uninstall: the release and the App go.
	e.alice.MustRun("app", "uninstall", "web")
	if _, ok := e.helm.list(t, e.ns)["web"]; ok {
		t.Fatal("helm list still shows web after the uninstall")
	}
	if stderr := e.alice.MustFail("app", "get", "web", "--project", e.prj); !strings.Contains(stderr, "not found") {
		t.Fatalf("kstack app get after the uninstall: %s", stderr)
	}
	if out, err := e.k.Kubectl(e.p.Kubeconfig, "get", "secret", "web-values", "-n", e.prj); err == nil {
		t.Fatalf("the secret values outlive their App: %s", out)
	}
}

// helmKubectl runs kubectl as alice, through the proxy (her helm kubeconfig).
func (e *env) helmKubectl(t *testing.T, args ...string) string {
	t.Helper()
	return strings.TrimSpace(e.alice.MustKubectl(e.helm.kubeconfig, args...))
}
