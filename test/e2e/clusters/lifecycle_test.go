package clusters

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/test/e2e/framework"
)

func TestClusterLifecycle(t *testing.T) {
	k := framework.New(t)
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(t))
	id, kcLife := importedCluster(t, k, "life", 3)
	proxy := filepath.Join(t.TempDir(), "proxy.kubeconfig")
	k.MustRun("kubeconfig", "--cluster", id, "-f", proxy)

	t.Run("node operations", func(t *testing.T) { nodeOperations(t, k, id, kcLife, "life") })
	t.Run("helm through the proxy", func(t *testing.T) { helmThroughTheProxy(t, k, proxy, kcLife) })

	t.Run("a locked cluster takes no new workloads", func(t *testing.T) {
		k.MustRun("cluster", "lock", id)
		framework.Eventually(t, 30*time.Second, "lock in force", func() error {
			_, err := k.Kubectl(proxy, "create", "deployment", "blocked", "--image=nginx")
			if err == nil {
				k.MustKubectl(proxy, "delete", "deployment", "blocked")
				return errString("the deployment was created")
			}
			if !strings.Contains(err.Error(), "is locked") {
				t.Fatalf("error %v does not say the cluster is locked", err)
			}
			return nil
		})
		k.MustKubectl(proxy, "create", "configmap", "still-fine")
		k.MustRun("cluster", "unlock", id)
		framework.Eventually(t, 30*time.Second, "unlocked", func() error {
			_, err := k.Kubectl(proxy, "create", "deployment", "allowed", "--image=nginx")
			return err
		})
	})

	t.Run("updating the credential, checked live", func(t *testing.T) {
		server := k.MustKubectl(kcLife, "config", "view", "-o", "jsonpath={.clusters[0].cluster.server}")
		ca := filepath.Join(k.DataDir, "clusters", "life", "pki", "ca.crt")
		stderr := k.MustFail("cluster", "update", id, "--server", server, "--ca", ca, "--token", "bad")
		if !strings.Contains(stderr, "401") {
			t.Fatalf("bad token: %q", stderr)
		}
		kcOther := k.CreateCluster("other", 1)
		stderr = k.MustFail("cluster", "update", id, "--kubeconfig", kcOther)
		if !strings.Contains(stderr, "reach another cluster") {
			t.Fatalf("another cluster: %q", stderr)
		}
		// The refused updates changed nothing.
		if out := k.MustKubectl(p.Kubeconfig, "get", "clustercredential", "cc-"+id, "-o", "jsonpath={.spec.clientCert}"); out == "" {
			t.Fatal("the credential changed after refused updates")
		}
		token := serviceAccountToken(t, k, kcLife, "rotated", true)
		k.MustRun("cluster", "update", id, "--server", server, "--ca", ca, "--token", token)
		if out := k.MustKubectl(p.Kubeconfig, "get", "clustercredential", "cc-"+id, "-o", "jsonpath={.spec.clientCert}"); out != "" {
			t.Fatal("the client certificate is still stored after switching to a token")
		}
		framework.Eventually(t, time.Minute, "proxy works with the new credential", func() error {
			_, err := k.Kubectl(proxy, "get", "configmap", "still-fine")
			return err
		})
		waitPhase(t, k, "life", "Running", time.Minute)
		// Secrets never leave through the platform API to anyone else; the
		// credential object itself holds no secret.
		if out := k.MustKubectl(p.Kubeconfig, "get", "clustercredential", "cc-"+id, "-o", "yaml"); strings.Contains(out, token) {
			t.Fatal("the token is stored in the ClusterCredential, not in a Secret")
		}
	})

	t.Run("delete with --delete-local removes the local cluster too", func(t *testing.T) {
		k.MustRun("cluster", "delete", id, "--delete-local")
		if _, ok := clusters(t, k)["life"]; ok {
			t.Fatal("the cluster is still listed")
		}
		if out := k.MustRun("local", "list"); strings.Contains(out, "life") {
			t.Fatalf("the local cluster is still there:\n%s", out)
		}
		stderr := k.MustFail("cluster", "delete", "global")
		if !strings.Contains(stderr, "cannot be removed") {
			t.Fatalf("deleting global: %q", stderr)
		}
	})
}

type errString string

func (e errString) Error() string { return string(e) }
