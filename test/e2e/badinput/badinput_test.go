// Package badinput checks that every bad input named by the foundation issue
// gets an error that says what is wrong and what to do, and leaves nothing
// half-made behind.
package badinput_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kstack/kstack/test/e2e/framework"
)

func wantError(t *testing.T, stderr string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(stderr, p) {
			t.Errorf("error %q does not say %q", strings.TrimSpace(stderr), p)
		}
	}
}

func TestInvalidNames(t *testing.T) {
	k := framework.New(t)
	for _, name := range []string{"Bad_Name", "dash-", "has.dot", strings.Repeat("a", 64)} {
		stderr := k.MustFail("local", "create", name)
		wantError(t, stderr, "invalid cluster name", "lowercase")
	}
	if _, err := os.Stat(filepath.Join(k.DataDir, "clusters")); !os.IsNotExist(err) {
		t.Errorf("an invalid name left a clusters directory: %v", err)
	}
	wantError(t, k.MustFail("local", "create", "ok", "--nodes", "-1"), "invalid --nodes -1", "0 to 100")
}

func TestUnknownCluster(t *testing.T) {
	k := framework.New(t)
	k.CreateCluster("known", 1)
	for _, verb := range []string{"start", "stop", "delete", "kubeconfig"} {
		stderr := k.MustFail("local", verb, "nope")
		wantError(t, stderr, `no such local cluster "nope"`, "known clusters: known")
	}

	t.Run("creating a cluster that exists", func(t *testing.T) {
		wantError(t, k.MustFail("local", "create", "known"), `"known" already exists`, "kstack local delete known")
		// The existing cluster is untouched.
		kc := strings.TrimSpace(k.MustRun("local", "kubeconfig", "known"))
		k.MustKubectl(kc, "get", "nodes")
	})

	t.Run("a kept port taken by another program", func(t *testing.T) {
		k.MustRun("local", "stop", "known")
		server := strings.TrimSpace(k.MustKubectl(kubeconfigOf(t, k, "known"), "config", "view", "-o", "jsonpath={.clusters[0].cluster.server}"))
		l, err := net.Listen("tcp", strings.TrimPrefix(server, "https://"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		wantError(t, k.MustFail("local", "start", "known"), "is already in use by another program", "kube-apiserver of local cluster known")
		if pids := k.Processes(); len(pids) > 0 {
			t.Errorf("a failed start left processes: %v", pids)
		}
	})

	t.Run("a corrupt PKI file", func(t *testing.T) {
		ca := filepath.Join(k.DataDir, "clusters", "known", "pki", "ca.crt")
		if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		wantError(t, k.MustFail("local", "start", "known"), "PKI file "+ca+" is damaged", "restore it")
		if pids := k.Processes(); len(pids) > 0 {
			t.Errorf("a failed start left processes: %v", pids)
		}
	})
}

func TestFailedCreateLeavesNothing(t *testing.T) {
	k := framework.New(t)
	// A timeout far too short for the control plane makes the create fail
	// after its processes started.
	stderr := k.MustFail("local", "create", "slow", "--timeout", "300ms")
	wantError(t, stderr, "not ready after 300ms")
	if _, err := os.Stat(filepath.Join(k.DataDir, "clusters", "slow")); !os.IsNotExist(err) {
		t.Errorf("the failed create left its directory: %v", err)
	}
	if pids := k.Processes(); len(pids) > 0 {
		t.Errorf("the failed create left processes: %v", pids)
	}
	// The name is free again.
	k.CreateCluster("slow", 1)
}

func TestDataDirs(t *testing.T) {
	k := framework.New(t)

	t.Run("not writable", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "a-file")
		writeFile(t, file, "")
		k.DataDir = filepath.Join(file, "data")
		wantError(t, k.MustFail("local", "create", "x"), "is not usable", "--data-dir")
		k.DataDir = file
		wantError(t, k.MustFail("local", "create", "x"), "is a file, not a directory")
	})

	t.Run("another program's", func(t *testing.T) {
		k.DataDir = t.TempDir()
		writeFile(t, filepath.Join(k.DataDir, "photo.jpg"), "x")
		wantError(t, k.MustFail("local", "create", "x"), "kstack did not make", "new or empty directory")
		wantError(t, k.MustFail("up"), "kstack did not make")
		writeFile(t, filepath.Join(k.DataDir, "kstack-data.json"), `{"program":"other"}`)
		wantError(t, k.MustFail("local", "list"), "belongs to another program")
		entries, err := os.ReadDir(k.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			t.Errorf("kstack wrote into another program's directory: %v", entries)
		}
	})

	t.Run("a newer kstack's", func(t *testing.T) {
		k.DataDir = t.TempDir()
		writeFile(t, filepath.Join(k.DataDir, "kstack-data.json"), `{"program":"kstack","format":99}`)
		wantError(t, k.MustFail("local", "create", "x"), "newer kstack", "format 99")
		wantError(t, k.MustFail("up"), "newer kstack")
	})

	t.Run("missing, for a read-only command", func(t *testing.T) {
		k.DataDir = filepath.Join(t.TempDir(), "never-made")
		wantError(t, k.MustFail("local", "list"), "does not exist")
		if _, err := os.Stat(k.DataDir); !os.IsNotExist(err) {
			t.Error("a read-only command created the data dir")
		}
	})
}

func TestUpBadInput(t *testing.T) {
	k := framework.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().String()
	wantError(t, k.MustFail("up", "--listen", taken), "already in use", "--listen")
	wantError(t, k.MustFail("up", "--listen", "nonsense"), `invalid --listen "nonsense"`)
	wantError(t, k.MustFail("up", "--listen", "127.0.0.1:99999"), "port must be a number from 1 to 65535")
	free := framework.FreeAddr(t)
	wantError(t, k.MustFail("up", "--listen", free, "--external-url", "http://plain"), "invalid --external-url")
	wantError(t, k.MustFail("up", "--listen", free, "--tls-cert-file", "/nonexistent.crt"), "go together")
	bad := filepath.Join(t.TempDir(), "bad.pem")
	writeFile(t, bad, "junk")
	wantError(t, k.MustFail("up", "--listen", free, "--tls-cert-file", bad, "--tls-key-file", bad), "cannot be used")
	if pids := k.Processes(); len(pids) > 0 {
		t.Errorf("failed ups left processes: %v", pids)
	}
	if _, err := os.Stat(filepath.Join(k.DataDir, "platform")); !os.IsNotExist(err) {
		t.Errorf("failed ups left platform state: %v", err)
	}
	wantError(t, k.MustFail("local", "list", "-o", "xml"), "unknown output format", "table, json, yaml")
}

func kubeconfigOf(t *testing.T, k *framework.Kstack, name string) string {
	return strings.TrimSpace(k.MustRun("local", "kubeconfig", name))
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
