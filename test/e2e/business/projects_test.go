// Package business holds the end-to-end tests of projects: quotas across two
// real member clusters, namespaces reconciled into them, members deploying
// through the platform, and everything a project must refuse.
package business

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

func login(t *testing.T, k *framework.Kstack, user, password string) *framework.Kstack {
	t.Helper()
	u := k.As(user)
	if r := u.RunStdin(password+"\n", "login", "--username", user, "--password-stdin"); r.Err != nil {
		t.Fatalf("login %s: %v %s", user, r.Err, r.Stderr)
	}
	return u
}

func mustContainAll(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(strings.Join(strings.Fields(got), " "), strings.Join(strings.Fields(w), " ")) {
			t.Fatalf("want %q in:\n%s", w, got)
		}
	}
}

func mustFail(t *testing.T, k *framework.Kstack, want string, args ...string) {
	t.Helper()
	r := k.Run(args...)
	if r.Err == nil || !strings.Contains(r.Stderr, want) {
		t.Fatalf("kstack %s: want an error with %q, got %v\n%s%s", strings.Join(args, " "), want, r.Err, r.Stdout, r.Stderr)
	}
}

type projectStatus struct {
	Status struct {
		Clusters []struct {
			Name            string
			Allocated, Used map[string]string
		}
	}
}

func TestProjects(t *testing.T) {
	k := framework.New(t)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD=Adm1n-Passw0rd")
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(t))
	c1, kc1 := k.ImportedCluster("c1", 1)
	c2, _ := k.ImportedCluster("c2", 1)
	for _, u := range []string{"alice", "bob", "carol"} {
		if r := k.RunStdin("Passw0rd-"+strings.ToUpper(u[:1])+u[1:]+"1\n", "user", "create", u, "--password-stdin"); r.Err != nil {
			t.Fatal(r.Stderr)
		}
	}

	// A project across both clusters; a member; namespaces in each.
	a := strings.TrimSpace(k.MustRun("project", "create", "team-a", "--cluster", c1, "--cluster", c2, "--cpu", "2", "--memory", "4Gi", "--pods", "10", "-o", "name"))
	if !strings.HasPrefix(a, "prj-") || len(a) != 12 {
		t.Fatalf("project ID %q", a)
	}
	k.MustRun("project", "add-member", a, "alice")
	k.MustRun("namespace", "create", "web", "--project", a, "--cluster", c1, "--cpu", "1", "--memory", "1Gi", "--pods", "5")
	k.MustRun("namespace", "create", "web", "--project", a, "--cluster", c2, "--cpu", "1")
	b := strings.TrimSpace(k.MustRun("project", "create", "team-b", "--cluster", c1, "--cpu", "1", "-o", "name"))
	k.MustRun("project", "add-member", b, "bob")

	t.Run("bad input", func(t *testing.T) {
		mustFail(t, k, "does not fit in project "+a+"'s quota in cluster "+c1+": requests.cpu: 1500m asked, but only 1 of 2 is left",
			"namespace", "create", "big", "--project", a, "--cluster", c1, "--cpu", "1500m")
		mustFail(t, k, "has no quota in cluster "+c2, "namespace", "create", "web-b", "--project", b, "--cluster", c2, "--cpu", "100m")
		mustFail(t, k, "belongs to project "+a, "namespace", "create", "web", "--project", b, "--cluster", c1)
		mustFail(t, k, `no cluster "cls-nope00"`, "project", "create", "x", "--cluster", "cls-nope00")
		mustFail(t, k, `member "nobody" is not a user`, "project", "add-member", a, "nobody")
		mustFail(t, k, "cannot be lowered below what is allocated: requests.cpu: 500m is below the 1", "project", "set-quota", a, "--cluster", c1, "--cpu", "500m")
		mustFail(t, k, "is not a quantity", "project", "create", "x", "--cluster", c1, "--cpu", "lots")
		sub := strings.TrimSpace(k.MustRun("project", "create", "team-a-sub", "--parent", a, "--cluster", c1, "--cpu", "1", "-o", "name"))
		mustFail(t, k, "does not fit in parent project "+a, "project", "create", "team-a-sub2", "--parent", a, "--cluster", c1, "--cpu", "1"+"00m")
		mustFail(t, k, "not a cluster of the parent project", "project", "create", "team-b-sub", "--parent", b, "--cluster", c2, "--cpu", "1")
		// A cycle of parents.
		hc, tok := k.PlatformHTTP()
		code, body := framework.Do(t, hc, "GET", p.ConsoleURL+"/business/apis/business.tkestack.io/v1/projects/"+a, tok, "", "", "")
		if code != http.StatusOK {
			t.Fatalf("reading project %s: %d %s", a, code, body)
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(body), &obj); err != nil {
			t.Fatal(err)
		}
		spec, ok := obj["spec"].(map[string]any)
		if !ok {
			t.Fatalf("project %s has no spec: %s", a, body)
		}
		spec["parentProjectName"] = sub
		data, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		code, body = framework.Do(t, hc, "PUT", p.ConsoleURL+"/business/apis/business.tkestack.io/v1/projects/"+a, tok, "", "application/json", string(data))
		if code != 422 || !strings.Contains(body, "cycle") {
			t.Fatalf("a cycle of parents: %d %s", code, body)
		}
		// Nothing half-made: no namespace "big" in the member.
		if out, err := k.Kubectl(kc1, "get", "namespace", "big"); !notFound(err) {
			t.Fatalf("a refused namespace was made in the member: %s %v", out, err)
		}
		k.MustRun("project", "delete", sub)
		// Two namespaces that each fit, but not both, asked for at once:
		// exactly one is admitted.
		type result struct {
			name string
			code int
		}
		results := make(chan result, 2)
		for _, n := range []string{"race-1", "race-2"} {
			go func(n string) {
				body := `{"apiVersion":"business.tkestack.io/v1","kind":"Namespace","metadata":{"namespace":"` + b + `"},"spec":{"clusterName":"` + c1 +
					`","namespace":"` + n + `","hard":{"requests.cpu":"600m"}}}`
				req, _ := http.NewRequest("POST", p.ConsoleURL+"/business/apis/business.tkestack.io/v1/namespaces/"+b+"/namespaces", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req) // not framework.Do: no t.Fatal off the test's goroutine
				if err != nil {
					results <- result{n, -1}
					return
				}
				resp.Body.Close()
				results <- result{n, resp.StatusCode}
			}(n)
		}
		r1, r2 := <-results, <-results
		if r1.code+r2.code != 201+422 || r1.code != 201 && r2.code != 201 {
			t.Fatalf("racing namespaces: %d and %d, want one 201 and one 422", r1.code, r2.code)
		}
		admitted := r1.name
		if r2.code == 201 {
			admitted = r2.name
		}
		k.MustRun("namespace", "delete", admitted, "--project", b, "--cluster", c1)
		// A namespace already in the member outside any project is not taken over.
		k.MustKubectl(kc1, "create", "namespace", "legacy")
		k.MustRun("namespace", "create", "legacy", "--project", a, "--cluster", c1)
		framework.Eventually(t, 30*time.Second, "legacy Failed", func() error {
			out := k.MustRun("namespace", "list", "--project", a)
			if !strings.Contains(out, "outside any project") {
				return fmt.Errorf("%s", out)
			}
			return nil
		})
		k.MustRun("namespace", "delete", "legacy", "--project", a, "--cluster", c1)
		if _, err := k.Kubectl(kc1, "get", "namespace", "legacy"); err != nil {
			t.Fatal("deleting the refused business namespace removed the member's own namespace")
		}
	})

	alice := login(t, k, "alice", "Passw0rd-Alice1")
	bob := login(t, k, "bob", "Passw0rd-Bob1")
	carol := login(t, k, "carol", "Passw0rd-Carol1")
	akc := filepath.Join(t.TempDir(), "alice.kubeconfig")
	alice.MustRun("kubeconfig", "--cluster", c1, "-f", akc)

	t.Run("a member deploys, within the quota", func(t *testing.T) {
		alice.MustKubectl(akc, "-n", "web", "create", "deployment", "shop", "--image=nginx", "--replicas=2")
		alice.MustKubectl(akc, "-n", "web", "set", "resources", "deployment", "shop", "--requests=cpu=200m,memory=100Mi")
		framework.Eventually(t, time.Minute, "2 shop pods Running", func() error {
			out, err := alice.Kubectl(akc, "-n", "web", "get", "pods", "-l", "app=shop", "--field-selector=status.phase=Running", "-o", "name")
			if err != nil || len(strings.Fields(out)) != 2 {
				return fmt.Errorf("%v %s", err, out)
			}
			return nil
		})
		// Scale, change the image, roll back, read events and logs: plain
		// kubectl through the platform, as the member.
		alice.MustKubectl(akc, "-n", "web", "scale", "deployment", "shop", "--replicas=3")
		alice.MustKubectl(akc, "-n", "web", "set", "image", "deployment/shop", "nginx=nginx:1.27")
		alice.MustKubectl(akc, "-n", "web", "rollout", "undo", "deployment/shop")
		framework.Eventually(t, time.Minute, "shop rolled back to its first image", func() error {
			img, err := alice.Kubectl(akc, "-n", "web", "get", "deployment", "shop", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
			if err != nil || img != "nginx" {
				return fmt.Errorf("image %q %v", img, err)
			}
			return nil
		})
		if out := alice.MustKubectl(akc, "-n", "web", "get", "events"); !strings.Contains(out, "shop") {
			t.Fatalf("events of the namespace:\n%s", out)
		}
		pod := strings.Fields(alice.MustKubectl(akc, "-n", "web", "get", "pods", "-l", "app=shop", "-o", "name"))[0]
		if _, err := alice.Kubectl(akc, "-n", "web", "logs", pod); err != nil {
			t.Fatalf("logs: %v", err)
		}
		alice.MustKubectl(akc, "-n", "web", "scale", "deployment", "shop", "--replicas=2")
		framework.Eventually(t, time.Minute, "2 shop pods", func() error {
			out, err := alice.Kubectl(akc, "-n", "web", "get", "pods", "-l", "app=shop", "--field-selector=status.phase=Running", "-o", "name")
			if err != nil || len(strings.Fields(out)) != 2 {
				return fmt.Errorf("%v %s", err, out)
			}
			return nil
		})
		// Over the namespace's quota: the member's ResourceQuota answers, clearly.
		_, err := alice.Kubectl(akc, "-n", "web", "run", "hog", "--image=nginx", "--overrides", `{"spec":{"containers":[{"name":"hog","image":"nginx","resources":{"requests":{"cpu":"2","memory":"10Mi"}}}]}}`)
		if err == nil || !strings.Contains(err.Error(), "exceeded quota: kstack-quota") {
			t.Fatalf("a pod over the quota: %v", err)
		}
		// Usage flows back into the project's status.
		framework.Eventually(t, 30*time.Second, "usage in the project status", func() error {
			var st projectStatus
			if err := json.Unmarshal([]byte(k.MustRun("project", "get", a, "-o", "json")), &st); err != nil {
				return err
			}
			for _, c := range st.Status.Clusters {
				if c.Name == c1 && c.Used["requests.cpu"] == "400m" && c.Allocated["requests.cpu"] == "1" {
					return nil
				}
			}
			return fmt.Errorf("%+v", st.Status)
		})
		// Members cannot loosen the quota that binds them.
		if _, err := alice.Kubectl(akc, "-n", "web", "delete", "resourcequota", "kstack-quota"); err == nil || !strings.Contains(err.Error(), "denies") {
			t.Fatalf("a member deleting the quota: %v", err)
		}
		// Nor reach outside the project's namespaces.
		if _, err := alice.Kubectl(akc, "-n", "default", "get", "pods"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
			t.Fatalf("a member reading a namespace outside the project: %v", err)
		}
	})

	t.Run("every kind of workload as a member", func(t *testing.T) {
		kc2 := filepath.Join(t.TempDir(), "c2.kubeconfig")
		alice.MustRun("kubeconfig", "--cluster", c2, "--namespace", "web", "-f", kc2)
		res := `resources: {requests: {cpu: 100m}}`
		pod := func(name string) string {
			return `{metadata: {labels: {app: ` + name + `}}, spec: {restartPolicy: OnFailure, containers: [{name: c, image: busybox, ` + res + `}]}}`
		}
		all := filepath.Join(t.TempDir(), "all.yaml")
		writeFile(t, all, `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec: {serviceName: db, replicas: 1, selector: {matchLabels: {app: db}}, template: `+strings.Replace(pod("db"), "restartPolicy: OnFailure, ", "", 1)+`}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec: {selector: {matchLabels: {app: agent}}, template: `+strings.Replace(pod("agent"), "restartPolicy: OnFailure, ", "", 1)+`}
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec: {template: `+pod("once")+`}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec: {schedule: "0 3 * * *", jobTemplate: {spec: {template: `+pod("nightly")+`}}}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec: {selector: {app: db}, ports: [{port: 5432}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec: {rules: [{host: shop.example, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: db, port: {number: 5432}}}}]}}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: b}
---
apiVersion: v1
kind: Secret
metadata: {name: pw}
stringData: {password: s3cret}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`)
		alice.MustKubectl(kc2, "apply", "-f", all)
		out := alice.MustKubectl(kc2, "get", "statefulset,daemonset,job,cronjob,service,ingress,configmap,secret,pvc", "-o", "name")
		for _, want := range []string{"statefulset.apps/db", "daemonset.apps/agent", "job.batch/once", "cronjob.batch/nightly", "service/db",
			"ingress.networking.k8s.io/web", "configmap/cfg", "secret/pw", "persistentvolumeclaim/data"} {
			if !strings.Contains(out, want) {
				t.Fatalf("%s missing:\n%s", want, out)
			}
		}
		framework.Eventually(t, time.Minute, "db and agent pods Running", func() error {
			out, err := alice.Kubectl(kc2, "get", "pods", "-l", "app in (db,agent)", "--field-selector=status.phase=Running", "-o", "name")
			if err != nil || len(strings.Fields(out)) != 2 {
				return fmt.Errorf("%v %s", err, out)
			}
			return nil
		})
	})

	t.Run("publish to both clusters at once", func(t *testing.T) {
		app := filepath.Join(t.TempDir(), "app.yaml")
		writeFile(t, app, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: nginx:1.25
        resources: {requests: {cpu: 100m, memory: 50Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector: {app: api}
  ports: [{port: 80}]
`)
		out := alice.MustRun("publish", "-f", app, "--project", a, "--cluster", c1, "--cluster", c2, "--namespace", "web",
			"--replicas", "2", "--replicas", c2+"=3", "--image", c2+"=nginx:1.27")
		mustContainAll(t, out, c1+"   deployment/api   2/2", c2+"   deployment/api   3/3", "service/api")
		kc2 := filepath.Join(t.TempDir(), "c2.kubeconfig")
		alice.MustRun("kubeconfig", "--cluster", c2, "-f", kc2)
		img := alice.MustKubectl(kc2, "-n", "web", "get", "deployment", "api", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
		if img != "nginx:1.27" {
			t.Fatalf("image in %s: %q", c2, img)
		}
		// Over the quota in one cluster: that cluster says so, the other is done.
		r := alice.Run("publish", "-f", app, "--project", a, "--cluster", c1, "--namespace", "web", "--replicas", "20", "--timeout", "5s")
		if r.Err == nil || !strings.Contains(r.Stdout, "NotReady") {
			t.Fatalf("20 replicas over a 5-pod quota reported ready:\n%s", r.Stdout)
		}
		// A namespace the project does not have in a cluster is named.
		mustFail(t, alice, "has no namespace nope", "publish", "-f", app, "--project", a, "--cluster", c1, "--namespace", "nope")
	})

	t.Run("others are denied", func(t *testing.T) {
		for name, u := range map[string]*framework.Kstack{"bob (project B)": bob, "carol (no project)": carol} {
			kc := filepath.Join(t.TempDir(), "kc")
			u.MustRun("kubeconfig", "--cluster", c1, "-f", kc)
			if _, err := u.Kubectl(kc, "-n", "web", "get", "pods"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
				t.Errorf("%s listing pods of project A: %v", name, err)
			}
		}
		// The portal shows each user their own projects only.
		hc, _ := k.PlatformHTTP()
		for user, want := range map[*framework.Kstack]string{alice: a, bob: b} {
			var cred struct{ Status struct{ Token string } }
			if err := json.Unmarshal([]byte(user.MustRun("credential")), &cred); err != nil || cred.Status.Token == "" {
				t.Fatalf("credential of %s: %q %v", want, cred.Status.Token, err)
			}
			code, body := framework.Do(t, hc, "GET", p.ConsoleURL+"/business/apis/business.tkestack.io/v1/portal", cred.Status.Token, "", "", "")
			if code != http.StatusOK || !strings.Contains(body, want) || strings.Count(body, `"name":"prj-`) != 1 {
				t.Errorf("portal of %s: %d %s", want, code, body)
			}
		}
	})

	t.Run("a removed member loses access", func(t *testing.T) {
		k.MustRun("project", "remove-member", a, "alice")
		framework.Eventually(t, 30*time.Second, "alice denied", func() error {
			if _, err := alice.Kubectl(akc, "-n", "web", "get", "pods"); err == nil {
				return fmt.Errorf("still allowed")
			} else if !strings.Contains(err.Error(), "Forbidden") {
				return err
			}
			return nil
		})
		mustFail(t, k, "is not a member", "project", "remove-member", a, "alice")
	})

	t.Run("import and move keep what runs", func(t *testing.T) {
		mustFail(t, k, "cannot be imported", "namespace", "import", "kube-system", "--project", a, "--cluster", c1)
		k.MustKubectl(kc1, "-n", "legacy", "create", "configmap", "keep-me")
		k.MustRun("namespace", "import", "legacy", "--project", a, "--cluster", c1)
		label := func() string {
			return k.MustKubectl(kc1, "get", "namespace", "legacy", "-o", "jsonpath={.metadata.labels.kstack\\.io/project}")
		}
		framework.Eventually(t, 30*time.Second, "legacy labelled with project A", func() error {
			if l := label(); l != a {
				return fmt.Errorf("label %q", l)
			}
			return nil
		})
		k.MustRun("namespace", "move", "legacy", "--project", a, "--cluster", c1, "--to", b)
		if l := label(); l != b {
			t.Fatalf("after the move the member namespace is labelled %q, want %s", l, b)
		}
		if out := k.MustRun("namespace", "list", "--project", a); strings.Contains(out, "legacy") {
			t.Fatalf("project A still lists legacy:\n%s", out)
		}
		mustContain := k.MustRun("namespace", "list", "--project", b)
		if !strings.Contains(mustContain, "legacy") {
			t.Fatalf("project B does not list legacy:\n%s", mustContain)
		}
		// The old project's cleanup did not take the namespace with it.
		time.Sleep(2 * time.Second)
		k.MustKubectl(kc1, "-n", "legacy", "get", "configmap", "keep-me")
		// Moving into a project without the cluster is refused, nothing changes.
		mustFail(t, k, "has no quota in cluster", "namespace", "move", "web", "--project", a, "--cluster", c2, "--to", b)
	})

	t.Run("delete: refused with namespaces, cascades when asked", func(t *testing.T) {
		mustFail(t, k, "holds quota of projects", "cluster", "delete", c2)
		mustFail(t, k, "still has 2 namespaces", "project", "delete", a)
		// A member that is down delays its cleanup without losing it.
		k.MustRun("local", "stop", "c2")
		k.MustRun("project", "delete", a, "--cascade")
		framework.Eventually(t, 30*time.Second, "web in c2 waiting for its cluster", func() error {
			out := k.MustRun("kubectl", "--kubeconfig", p.Kubeconfig, "get", "namespaces.business.tkestack.io", "-A")
			if !strings.Contains(out, c2+"-web") {
				return fmt.Errorf("gone already:\n%s", out)
			}
			return nil
		})
		k.MustRun("local", "start", "c2")
		kc2 := strings.TrimSpace(k.MustRun("local", "kubeconfig", "c2"))
		framework.Eventually(t, 2*time.Minute, "web gone from c2 once it is back", func() error {
			if _, err := k.Kubectl(kc2, "get", "namespace", "web", "-o", "name"); err == nil {
				return fmt.Errorf("still there")
			} else if !notFound(err) {
				return err
			}
			return nil
		})
		framework.Eventually(t, time.Minute, "namespace web gone from the member", func() error {
			out, err := k.Kubectl(kc1, "get", "namespace", "web", "-o", "jsonpath={.status.phase}")
			if err == nil {
				return fmt.Errorf("still there (%s)", out)
			} else if !notFound(err) {
				return err
			}
			return nil
		})
	})
}

// notFound says whether kubectl failed because the object does not exist
// (and not for any other reason).
func notFound(err error) bool {
	return err != nil && strings.Contains(err.Error(), "NotFound")
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
