package registry

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/registry"
)

// helmLoginPushPull runs Helm's registry client, what `helm registry
// login`, `helm push` and `helm pull` run: carol logs in with her password
// and pushes a chart into team-a, alice pulls it back with her access key,
// a wrong password is refused at login, and bob (another project) cannot
// pull it.
func helmLoginPushPull(t *testing.T, e *env) {
	dir := t.TempDir()
	ch := &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: "v2", Name: "greeter", Version: "0.1.0"},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: greeting}\n")}},
	}
	path, err := chartutil.Save(ch, dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// As `helm registry login --ca-file` and a credentials file of its own.
	client := func(name string) *registry.Client {
		c, err := registry.NewClient(registry.ClientOptCredentialsFile(filepath.Join(dir, name+".json")), registry.ClientOptWriter(io.Discard),
			registry.ClientOptHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.pool}}}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ref := e.host + "/team-a/greeter:0.1.0"

	bad := client("bad")
	if err := bad.Login(e.host, registry.LoginOptBasicAuth("bob", "not-"+bobPassword)); err == nil {
		t.Fatal("helm registry login with a wrong password succeeded")
	}

	carol := client("carol")
	if err := carol.Login(e.host, registry.LoginOptBasicAuth("carol", carolPassword)); err != nil {
		t.Fatalf("helm registry login with carol's password: %v", err)
	}
	if _, err := carol.Push(data, ref); err != nil {
		t.Fatalf("helm push as carol: %v", err)
	}

	alice := client("alice")
	if err := alice.Login(e.host, registry.LoginOptBasicAuth("alice", e.aliceKey)); err != nil {
		t.Fatalf("helm registry login with alice's access key: %v", err)
	}
	got, err := alice.Pull(ref, registry.PullOptWithChart(true))
	if err != nil {
		t.Fatalf("helm pull as alice: %v", err)
	}
	if got.Chart == nil || !bytes.Equal(got.Chart.Data, data) || got.Chart.Meta == nil || got.Chart.Meta.Version != "0.1.0" {
		t.Fatalf("helm pull gave another chart: %+v", got.Chart)
	}

	bob := client("bob")
	if err := bob.Login(e.host, registry.LoginOptBasicAuth("bob", e.bobKey)); err != nil {
		t.Fatalf("helm registry login with bob's access key: %v", err)
	}
	if _, err := bob.Pull(ref, registry.PullOptWithChart(true)); err == nil {
		t.Fatal("bob, of another project, pulled team-a's private chart")
	} else if strings.Contains(err.Error(), "greeter@sha256") {
		t.Fatalf("the refusal tells bob the chart's digest: %v", err)
	}
	// His own namespace works with the same client (the positive twin).
	if _, err := bob.Push(data, e.host+"/team-b/greeter:0.1.0"); err != nil {
		t.Fatalf("helm push as bob into his project's namespace: %v", err)
	}
}
