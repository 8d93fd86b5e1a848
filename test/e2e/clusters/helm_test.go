package clusters

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/cli"

	"github.com/kstack/kstack/test/e2e/framework"
)

// helmThroughTheProxy installs, upgrades and uninstalls a chart with the
// Helm SDK (what the helm CLI runs) against kc, a kubeconfig from `kstack
// kubeconfig`, and reads the result from the member itself. It runs inside
// TestClusterLifecycle, on its cluster (one platform and member fewer).
func helmThroughTheProxy(t *testing.T, k *framework.Kstack, kc, member string) {
	settings := cli.New()
	settings.KubeConfig = kc
	cfg := new(action.Configuration)
	if err := cfg.Init(settings.RESTClientGetter(), "default", "secret", t.Logf); err != nil {
		t.Fatal(err)
	}
	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "greeter", Version: "0.1.0"},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-greeting
data:
  greeting: {{ .Values.greeting | quote }}
`)}},
	}
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace = "hello", "default"
	if _, err := install.Run(ch, map[string]any{"greeting": "hi"}); err != nil {
		t.Fatalf("helm install through the proxy: %v", err)
	}
	got := func() string {
		return k.MustKubectl(member, "get", "configmap", "hello-greeting", "-o", "jsonpath={.data.greeting}")
	}
	if g := got(); g != "hi" {
		t.Fatalf("after install the member has %q", g)
	}
	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace = "default"
	if _, err := upgrade.Run("hello", ch, map[string]any{"greeting": "hello again"}); err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
	if g := got(); g != "hello again" {
		t.Fatalf("after upgrade the member has %q", g)
	}
	releases, err := action.NewList(cfg).Run()
	if err != nil || len(releases) != 1 || releases[0].Version != 2 {
		t.Fatalf("helm list: %v %v", releases, err)
	}
	if _, err := action.NewUninstall(cfg).Run("hello"); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	framework.Eventually(t, 30*time.Second, "configmap removed", func() error {
		if _, err := k.Kubectl(member, "get", "configmap", "hello-greeting"); err == nil {
			return fmt.Errorf("still there")
		} else if !strings.Contains(err.Error(), "NotFound") {
			return err
		}
		return nil
	})
}
