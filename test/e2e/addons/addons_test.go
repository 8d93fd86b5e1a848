// Package addons holds the end-to-end test of extension components: the
// CronHPA add-on enabled, upgraded and uninstalled in real local member
// clusters from the platform, and its controller scaling a Deployment at
// the minutes a test clock (--test-clock-file) reaches: at the scheduled
// minute, once after a restart that missed schedules, and once across a
// change of the platform's leader.
package addons

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/clock"
	"github.com/kstack/kstack/test/e2e/framework"
)

type env struct {
	t *testing.T
	// eight is the time the test calls 8:00: a whole hour at least an
	// hour after the test started, so that the test clock is ahead of the
	// members' real clocks (a CronHPA never fires for times before it was
	// created) and no schedule of the test fires between the two.
	eight    time.Time
	k        *framework.Kstack
	clock    string
	cluster  string
	memberKC string
}

// at is the test's hh:mm:ss (8:00 is e.eight), as the CronHPA status
// writes times.
func (e *env) at(hms string) string {
	var h, m, s int
	if _, err := fmt.Sscanf(hms, "%d:%d:%d", &h, &m, &s); err != nil {
		e.t.Fatal(err)
	}
	return e.eight.Add(time.Duration(h-8)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second).Format(time.RFC3339)
}

// daily is the crontab of the test's hour h, every day.
func (e *env) daily(h int) string {
	return fmt.Sprintf("0 %d * * *", e.eight.Add(time.Duration(h-8)*time.Hour).Hour())
}

// setClock moves the platform's clock to the test's hh:mm:ss.
func (e *env) setClock(hms string) {
	e.t.Helper()
	t, _ := time.Parse(time.RFC3339, e.at(hms))
	if err := clock.Set(e.clock, t); err != nil {
		e.t.Fatal(err)
	}
}

// kubectl runs kubectl against the member directly (the test's view of
// what is really there).
func (e *env) kubectl(args ...string) string {
	e.t.Helper()
	return e.k.MustKubectl(e.memberKC, args...)
}

func (e *env) replicas(name string) string {
	e.t.Helper()
	return strings.TrimSpace(e.kubectl("-n", "web", "get", "deployment", name, "-o", "jsonpath={.spec.replicas}"))
}

func (e *env) waitReplicas(name, want string) {
	e.t.Helper()
	framework.Eventually(e.t, 2*time.Minute, name+" at "+want+" replicas", func() error {
		if got := e.replicas(name); got != want {
			return fmt.Errorf("%s replicas", got)
		}
		return nil
	})
}

// rescales counts the controller's SuccessfulRescale events of CronHPA
// shop's schedule firing at at.
func (e *env) rescales(at string) int {
	e.t.Helper()
	out := e.kubectl("-n", "web", "get", "events", "--field-selector", "reason=SuccessfulRescale,involvedObject.name=shop", "-o", "jsonpath={range .items[*]}{.message}|{.count}{\"\\n\"}{end}")
	n := 0
	for _, l := range strings.Split(out, "\n") {
		msg, count, _ := strings.Cut(l, "|")
		if strings.Contains(msg, "at "+at) {
			var c int
			fmt.Sscan(count, &c)
			n += c
		}
	}
	return n
}

func (e *env) cronHPA(name, target, kind, apiVersion, tz string, crons ...string) string {
	var cs []string
	for _, c := range crons {
		sched, n, _ := strings.Cut(c, "=")
		cs = append(cs, fmt.Sprintf(`{"schedule":%q,"targetReplicas":%s}`, sched, n))
	}
	tzField := ""
	if tz != "" {
		tzField = fmt.Sprintf(`,"timeZone":%q`, tz)
	}
	return fmt.Sprintf(`{"apiVersion":"extensions.tkestack.io/v1","kind":"CronHPA","metadata":{"name":%q,"namespace":"web"},`+
		`"spec":{"scaleTargetRef":{"apiVersion":%q,"kind":%q,"name":%q},"crons":[%s]%s}}`, name, apiVersion, kind, target, strings.Join(cs, ","), tzField)
}

// addNode registers another simulated node in the member, a copy of its
// first one that kwok runs too, and returns its name.
func (e *env) addNode(suffix string) string {
	e.t.Helper()
	var n map[string]any
	if err := json.Unmarshal([]byte(e.kubectl("get", "nodes", "-l", "kstack.io/local-cluster", "-o", "jsonpath={.items[0]}")), &n); err != nil {
		e.t.Fatal(err)
	}
	meta := n["metadata"].(map[string]any)
	name := meta["name"].(string) + "-" + suffix
	labels := meta["labels"].(map[string]any)
	labels["kubernetes.io/hostname"] = name
	n["metadata"] = map[string]any{"name": name, "labels": labels, "annotations": map[string]any{"kwok.x-k8s.io/node": "fake"}}
	st := n["status"].(map[string]any)
	n["status"] = map[string]any{"capacity": st["capacity"], "allocatable": st["allocatable"]}
	delete(n, "spec")
	b, _ := json.Marshal(n)
	e.apply(string(b)) // a node's status may be set when it is created
	framework.Eventually(e.t, 2*time.Minute, "node "+name+" Ready", func() error {
		if got := e.kubectl("get", "node", name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`); got != "True" {
			return fmt.Errorf("Ready %q", got)
		}
		return nil
	})
	return name
}

func (e *env) apply(manifest string) {
	e.t.Helper()
	if r := e.k.RunStdin(manifest, "kubectl", "--kubeconfig", e.memberKC, "apply", "-f", "-"); r.Err != nil {
		e.t.Fatalf("kubectl apply: %v\n%s", r.Err, r.Stderr)
	}
}

func TestAddons(t *testing.T) {
	dir := t.TempDir()
	e := &env{t: t, clock: filepath.Join(dir, "clock"), eight: time.Now().UTC().Truncate(time.Hour).Add(2 * time.Hour)}
	e.setClock("07:58:00")
	k := framework.New(t)
	e.k = k
	upArgs := []string{"--listen", framework.FreeAddr(t), "--platform-arg=--test-clock-file=" + e.clock}
	p := k.Up(3*time.Minute, upArgs...)
	e.cluster, e.memberKC = k.ImportedCluster("m1", 1)

	t.Run("bad input", func(t *testing.T) {
		for _, tt := range []struct {
			what, want string
			args       []string
		}{
			{"an unknown type", `no add-on type "GPUManagerX"; the types are CronHPA`, []string{"addon", "install", e.cluster, "GPUManagerX"}},
			{"an unknown version", `CronHPA has no version "v9.9.9"; its versions are v1.0.0, v1.1.0`, []string{"addon", "install", e.cluster, "CronHPA", "--version", "v9.9.9"}},
			{"an unknown cluster", `there is no cluster "cls-nothere"`, []string{"addon", "install", "cls-nothere", "CronHPA"}},
			{"the global cluster", "is the global cluster", []string{"addon", "install", "global", "CronHPA"}},
		} {
			if out := k.MustFail(tt.args...); !strings.Contains(out, tt.want) {
				t.Errorf("%s: %q, want %q", tt.what, out, tt.want)
			}
		}
	})

	t.Run("enable CronHPA v1.0.0", func(t *testing.T) {
		k.MustRun("addon", "install", e.cluster, "cronhpa", "--version", "v1.0.0", "--wait")
		crd := e.kubectl("get", "crd", "cronhpas.extensions.tkestack.io", "-o", "jsonpath={.metadata.labels}")
		if !strings.Contains(crd, `"app.kubernetes.io/managed-by":"kstack"`) || !strings.Contains(crd, `"platform.kstack.io/addon":"cronhpa"`) {
			t.Fatalf("CRD labels %s", crd)
		}
		managers := e.kubectl("get", "crd", "cronhpas.extensions.tkestack.io", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}")
		if !strings.Contains(managers, "kstack-addon-cronhpa") {
			t.Fatalf("field managers %q", managers)
		}
		e.kubectl("get", "clusterrole", "kstack-addon-cronhpa-edit")
		list := k.MustRun("addon", "list", "--cluster", e.cluster)
		if !strings.Contains(list, "CronHPA") || !strings.Contains(list, "v1.0.0") || !strings.Contains(list, "Running") {
			t.Fatalf("addon list:\n%s", list)
		}
	})

	t.Run("scale at the scheduled minute", func(t *testing.T) {
		e.kubectl("create", "namespace", "web")
		e.kubectl("-n", "web", "create", "deployment", "shop", "--image=nginx", "--replicas=1")
		e.apply(e.cronHPA("shop", "shop", "Deployment", "apps/v1", "", e.daily(8)+"=5", e.daily(9)+"=2", e.daily(10)+"=7", e.daily(11)+"=3"))
		time.Sleep(2 * time.Second)
		if r := e.replicas("shop"); r != "1" {
			t.Fatalf("scaled before 8:00: %s", r)
		}
		e.setClock("08:00:05")
		e.waitReplicas("shop", "5")
		if last := e.kubectl("-n", "web", "get", "cronhpa", "shop", "-o", "jsonpath={.status.lastScheduleTime}"); last != e.at("08:00:00") {
			t.Fatalf("lastScheduleTime %q", last)
		}
	})

	t.Run("a missed schedule applies once after a restart", func(t *testing.T) {
		if err := p.Stop(); err != nil {
			t.Fatal(err)
		}
		// 9:00 (2 replicas) and 10:00 (7) pass while the platform is down.
		e.setClock("10:00:30")
		p = k.Up(3*time.Minute, upArgs...)
		e.waitReplicas("shop", "7")
		framework.Eventually(t, time.Minute, "lastScheduleTime 10:00", func() error {
			if last := e.kubectl("-n", "web", "get", "cronhpa", "shop", "-o", "jsonpath={.status.lastScheduleTime}"); last != e.at("10:00:00") {
				return fmt.Errorf("%q", last)
			}
			return nil
		})
		if n := e.rescales(e.at("09:00:00")); n != 0 {
			t.Fatalf("the missed 9:00 schedule was replayed %d times", n)
		}
		if n := e.rescales(e.at("10:00:00")); n != 1 {
			t.Fatalf("the 10:00 schedule applied %d times, want 1", n)
		}
	})

	t.Run("upgrade keeps the CronHPAs", func(t *testing.T) {
		uid := e.kubectl("-n", "web", "get", "cronhpa", "shop", "-o", "jsonpath={.metadata.uid}")
		k.MustRun("addon", "upgrade", e.cluster, "CronHPA", "--version", "v1.1.0", "--wait")
		if got := e.kubectl("-n", "web", "get", "cronhpa", "shop", "-o", "jsonpath={.metadata.uid}"); got != uid {
			t.Fatalf("CronHPA uid %q after the upgrade, was %q", got, uid)
		}
		e.kubectl("get", "clusterrole", "kstack-addon-cronhpa-view")
		// v1.1.0's schema has timeZone: it is kept, not pruned.
		e.apply(e.cronHPA("tz", "nothing", "Deployment", "apps/v1", "Asia/Shanghai", "0 23 * * 7=4"))
		if tz := e.kubectl("-n", "web", "get", "cronhpa", "tz", "-o", "jsonpath={.spec.timeZone}"); tz != "Asia/Shanghai" {
			t.Fatalf("timeZone %q", tz)
		}
		e.kubectl("-n", "web", "delete", "cronhpa", "tz")
	})

	t.Run("bad CronHPAs say why", func(t *testing.T) {
		e.kubectl("-n", "web", "create", "configmap", "cfg")
		for _, tt := range []struct{ name, manifest, reason, want string }{
			{"bad-cron", e.cronHPA("bad-cron", "shop", "Deployment", "apps/v1", "", "61 * * * *=2"), "InvalidSchedule", `spec.crons[0].schedule`},
			{"bad-tz", e.cronHPA("bad-tz", "shop", "Deployment", "apps/v1", "Mars/Olympus", e.daily(8)+"=2"), "InvalidTimeZone", `unknown time zone "Mars/Olympus"`},
			{"no-scale", e.cronHPA("no-scale", "cfg", "ConfigMap", "v1", "", e.daily(10)+"=2"), "NoScaleSubresource", "v1 ConfigMap has no scale subresource"},
		} {
			e.apply(tt.manifest)
			framework.Eventually(t, time.Minute, tt.name+" condition", func() error {
				got := e.kubectl("-n", "web", "get", "cronhpa", tt.name, "-o", `jsonpath={.status.conditions[?(@.type=="Valid")].reason}|{.status.conditions[?(@.type=="Valid")].message}`)
				if !strings.HasPrefix(got, tt.reason+"|") || !strings.Contains(got, tt.want) {
					return fmt.Errorf("%q", got)
				}
				return nil
			})
			e.kubectl("-n", "web", "delete", "cronhpa", tt.name)
		}
		// A target that does not exist yet: accepted, and the 10:00 firing
		// applies once it appears.
		e.apply(e.cronHPA("later", "later", "Deployment", "apps/v1", "", e.daily(10)+"=4"))
		framework.Eventually(t, time.Minute, "later waits for its target", func() error {
			got := e.kubectl("-n", "web", "get", "cronhpa", "later", "-o", `jsonpath={.status.conditions[?(@.type=="Scaled")].reason}`)
			if got != "TargetNotFound" {
				return fmt.Errorf("%q", got)
			}
			return nil
		})
		e.kubectl("-n", "web", "create", "deployment", "later", "--image=nginx", "--replicas=1")
		e.waitReplicas("later", "4")
		e.kubectl("-n", "web", "delete", "cronhpa", "later")
	})

	t.Run("a leader change neither loses nor doubles a schedule", func(t *testing.T) {
		second := startReplica(t, k, p.ConsoleURL, e.clock)
		// After the 10:00 firing someone scales by hand: no one may apply
		// 10:00 again over it.
		e.kubectl("-n", "web", "scale", "deployment", "shop", "--replicas=4")
		// 11:00 (3 replicas) comes while the leader changes.
		framework.StopFirstReplica(t, k, p.Kubeconfig, second, func() { e.setClock("11:00:10") })
		e.waitReplicas("shop", "3")
		time.Sleep(3 * time.Second)
		if n := e.rescales(e.at("11:00:00")); n != 1 {
			t.Fatalf("the 11:00 schedule applied %d times across the leader change, want 1", n)
		}
		if n := e.rescales(e.at("10:00:00")); n != 1 {
			t.Fatalf("the 10:00 schedule applied %d times, want 1", n)
		}
	})

	t.Run("TApp: instances with IDs, killed and restored, updated in place, gray-released, bad input refused, claims, migrated off a failed node, scaled, scheduled by a CronHPA", func(t *testing.T) {
		k.MustRun("addon", "install", e.cluster, "TApp", "--wait")
		tapp := func(extra string) string {
			return `{"apiVersion":"apps.tkestack.io/v1","kind":"TApp","metadata":{"name":"example-tapp","namespace":"web"},"spec":{"replicas":3,` +
				`"template":{"metadata":{"labels":{"app":"example-tapp"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.7.9"}]}}` + extra + `}}`
		}
		e.apply(tapp(""))
		statuses := func(want string) {
			t.Helper()
			framework.Eventually(t, 2*time.Minute, "TApp statuses "+want, func() error {
				got := e.kubectl("-n", "web", "get", "tapp", "example-tapp", "-o", `jsonpath={.status.appStatus} {.status.statuses}`)
				if got != want {
					return fmt.Errorf("%q", got)
				}
				return nil
			})
		}
		statuses(`Running {"0":"Running","1":"Running","2":"Running"}`)
		pods := e.kubectl("-n", "web", "get", "pods", "-l", "tapp.tkestack.io/name=example-tapp", "-o", "jsonpath={.items[*].metadata.name}")
		if pods != "example-tapp-0 example-tapp-1 example-tapp-2" {
			t.Fatalf("pods %q", pods)
		}
		if ev := e.kubectl("-n", "web", "get", "events", "--field-selector", "involvedObject.name=example-tapp,reason=SuccessfulCreate", "-o", "jsonpath={.items[*].message}"); strings.Count(ev, "Instance: example-tapp-") != 3 {
			t.Fatalf("SuccessfulCreate events: %q", ev)
		}
		uid := func(id string) string {
			return e.kubectl("-n", "web", "get", "pod", "example-tapp-"+id, "-o", "jsonpath={.metadata.uid}")
		}
		uid1 := uid("1")

		// Kill instance 2, then restore it.
		e.apply(tapp(`,"statuses":{"2":"Killed"}`))
		statuses(`Running {"0":"Running","1":"Running","2":"Killed"}`)
		e.apply(tapp(`,"statuses":{"2":"Running"}`))
		statuses(`Running {"0":"Running","1":"Running","2":"Running"}`)

		// Instance 1 only to a template of another image: in place, the same pod.
		pool := `,"templatePool":{"test":{"metadata":{"labels":{"app":"example-tapp"}},"spec":{"containers":[{"name":"nginx","image":"nginx:latest"}]}}},"templates":{"1":"test"}`
		e.apply(tapp(pool))
		framework.Eventually(t, time.Minute, "instance 1 on nginx:latest", func() error {
			if img := e.kubectl("-n", "web", "get", "pod", "example-tapp-1", "-o", "jsonpath={.spec.containers[0].image}"); img != "nginx:latest" {
				return fmt.Errorf("%q", img)
			}
			return nil
		})
		if got := uid("1"); got != uid1 {
			t.Fatalf("instance 1's pod was recreated (uid %s, was %s), not updated in place", got, uid1)
		}
		// The kubelet (kwok's stage) restarted the changed container: its
		// status shows the new image, one restart, and the pod Ready.
		framework.Eventually(t, time.Minute, "instance 1's container restarted on nginx:latest", func() error {
			got := e.kubectl("-n", "web", "get", "pod", "example-tapp-1", "-o",
				`jsonpath={.status.containerStatuses[0].image} {.status.containerStatuses[0].restartCount} {.status.conditions[?(@.type=="Ready")].status}`)
			if got != "nginx:latest 1 True" {
				return fmt.Errorf("%q", got)
			}
			return nil
		})
		statuses(`Running {"0":"Running","1":"Running","2":"Running"}`)
		if ev := e.kubectl("-n", "web", "get", "events", "--field-selector", "involvedObject.name=example-tapp,reason=SuccessfulUpdate", "-o", "jsonpath={.items[*].message}"); !strings.Contains(ev, "Instance: example-tapp-1") {
			t.Fatalf("SuccessfulUpdate events: %q", ev)
		}
		if img := e.kubectl("-n", "web", "get", "pod", "example-tapp-0", "-o", "jsonpath={.spec.containers[0].image}"); img != "nginx:1.7.9" {
			t.Fatalf("instance 0 changed too: %s", img)
		}

		// Instance 0 gray-released to a second template that differs in
		// more than images: its pod is recreated on it.
		uid0 := uid("0")
		canary := `,"canary":{"metadata":{"labels":{"app":"example-tapp"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.7.9","env":[{"name":"CANARY","value":"1"}]}]}}`
		pool2 := `,"templatePool":{"test":{"metadata":{"labels":{"app":"example-tapp"}},"spec":{"containers":[{"name":"nginx","image":"nginx:latest"}]}}` +
			canary + `},"templates":{"0":"canary","1":"test"}`
		e.apply(tapp(pool2))
		framework.Eventually(t, 2*time.Minute, "instance 0 on template canary", func() error {
			got := e.kubectl("-n", "web", "get", "pod", "example-tapp-0", "--ignore-not-found", "-o", `jsonpath={.metadata.uid} {.metadata.labels.tapp\.tkestack\.io/template} {.spec.containers[0].env[0].name} {.status.conditions[?(@.type=="Ready")].status}`)
			if f := strings.Fields(got); len(f) != 4 || f[0] == uid0 || f[1] != "canary" || f[2] != "CANARY" || f[3] != "True" {
				return fmt.Errorf("%q (uid before %s)", got, uid0)
			}
			return nil
		})
		statuses(`Running {"0":"Running","1":"Running","2":"Running"}`)
		if got := uid("1"); got != uid1 {
			t.Fatalf("instance 1 was recreated by instance 0's gray release")
		}

		// Bad input: the member's API server refuses it and the TApp
		// stays as it was.
		gen := e.kubectl("-n", "web", "get", "tapp", "example-tapp", "-o", "jsonpath={.metadata.generation}")
		for _, c := range []struct{ extra, want string }{
			{`,"templatePool":{"test":{"spec":{"containers":[{"name":"nginx","image":"nginx:latest"}]}}},"templates":{"1":"stable"}`,
				`spec.templates: instance 1 names template "stable", which is not in spec.templatePool: add the template to spec.templatePool, or name "default" for spec.template`},
			{`,"templates":{"5":"default"}`, `spec.templates: the keys are instance ids, from 0 to replicas-1, written as numbers without sign or leading zeros; of the other keys, such as "5", only those of instances removed by scaling down may stay, unchanged`},
			{`,"statuses":{"x":"Killed"}`, `spec.statuses: the keys are instance ids`},
			{`,"statuses":{"1":"Stopped"}`, `spec.statuses: instance 1 is "Stopped": an instance can only be set Running or Killed`},
			{`,"updateStrategy":{"maxUnavailable":0}`, `spec.updateStrategy.maxUnavailable in body should be greater than or equal to 1`},
		} {
			r := e.k.RunStdin(tapp(c.extra), "kubectl", "--kubeconfig", e.memberKC, "apply", "-f", "-")
			if r.Err == nil || !strings.Contains(r.Stderr, c.want) {
				t.Fatalf("%s: err %v, stderr %s\nwant %s", c.extra, r.Err, r.Stderr, c.want)
			}
		}
		if got := e.kubectl("-n", "web", "get", "tapp", "example-tapp", "-o", "jsonpath={.metadata.generation}"); got != gen {
			t.Fatalf("a refused change was applied: generation %s, was %s", got, gen)
		}

		// kubectl scale through the platform's proxy, as the administrator.
		akc := filepath.Join(t.TempDir(), "admin.kubeconfig")
		k.MustRun("kubeconfig", "--cluster", e.cluster, "-f", akc)
		k.MustKubectl(akc, "-n", "web", "scale", "tapp", "example-tapp", "--replicas=5")
		framework.Eventually(t, 2*time.Minute, "5 instances", func() error {
			if n := e.kubectl("-n", "web", "get", "tapp", "example-tapp", "-o", "jsonpath={.status.replicas}/{.status.readyReplicas}"); n != "5/5" {
				return fmt.Errorf("%s", n)
			}
			return nil
		})

		// A CronHPA scales the TApp through the same subresource.
		e.apply(e.cronHPA("tapp", "example-tapp", "TApp", "apps.tkestack.io/v1", "", e.daily(12)+"=2"))
		e.setClock("12:00:05")
		framework.Eventually(t, 2*time.Minute, "the TApp scaled to 2 by its CronHPA", func() error {
			if n := e.kubectl("-n", "web", "get", "tapp", "example-tapp", "-o", "jsonpath={.spec.replicas} {.status.replicas}"); n != "2 2" {
				return fmt.Errorf("%s", n)
			}
			return nil
		})
		e.kubectl("-n", "web", "delete", "cronhpa", "tapp")
		e.kubectl("-n", "web", "delete", "tapp", "example-tapp")

		// Claims: each instance gets its own, and they cannot change.
		claims := func(size string) string {
			return `{"apiVersion":"apps.tkestack.io/v1","kind":"TApp","metadata":{"name":"db","namespace":"web"},"spec":{"replicas":1,` +
				`"template":{"metadata":{"labels":{"app":"db"}},"spec":{"containers":[{"name":"db","image":"postgres:16"}]}},` +
				`"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"` + size + `"}}}}]}}`
		}
		e.apply(claims("1Gi"))
		framework.Eventually(t, time.Minute, "instance 0's claim", func() error {
			got := e.kubectl("-n", "web", "get", "pvc", "data-db-0", "--ignore-not-found", "-o", "jsonpath={.spec.resources.requests.storage}") + " " +
				e.kubectl("-n", "web", "get", "pod", "db-0", "--ignore-not-found", "-o", `jsonpath={.spec.volumes[?(@.name=="data")].persistentVolumeClaim.claimName}`)
			if got != "1Gi data-db-0" {
				return fmt.Errorf("%q", got)
			}
			return nil
		})
		if r := e.k.RunStdin(claims("2Gi"), "kubectl", "--kubeconfig", e.memberKC, "apply", "-f", "-"); r.Err == nil ||
			!strings.Contains(r.Stderr, "spec.volumeClaimTemplates cannot change once the TApp exists (as for a StatefulSet): make a new TApp for other claims") {
			t.Fatalf("a claim change: err %v, %s", r.Err, r.Stderr)
		}
		e.kubectl("-n", "web", "delete", "tapp", "db")
		e.kubectl("-n", "web", "delete", "pvc", "data-db-0")

		// Migration: an instance on a node that fails runs again on another.
		spare := e.addNode("spare")
		node1 := strings.TrimSpace(e.kubectl("get", "nodes", "-l", "kstack.io/local-cluster", "-o", "jsonpath={.items[0].metadata.name}"))
		e.kubectl("cordon", node1)
		e.apply(`{"apiVersion":"apps.tkestack.io/v1","kind":"TApp","metadata":{"name":"moving","namespace":"web"},"spec":{"replicas":1,` +
			`"template":{"metadata":{"labels":{"app":"moving"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}}}`)
		placed := func(node string) string {
			t.Helper()
			var uid string
			framework.Eventually(t, 2*time.Minute, "moving-0 Running on "+node, func() error {
				got := e.kubectl("-n", "web", "get", "pod", "moving-0", "--ignore-not-found", "-o", `jsonpath={.spec.nodeName} {.status.phase} {.metadata.uid}`)
				f := strings.Fields(got)
				if len(f) != 3 || f[0] != node || f[1] != "Running" {
					return fmt.Errorf("%q", got)
				}
				uid = f[2]
				return nil
			})
			return uid
		}
		before := placed(spare)
		e.kubectl("uncordon", node1)
		// The node's kubelet stops: kwok no longer runs it, and it is not
		// Ready (the platform's clock is hours ahead: long enough).
		e.kubectl("annotate", "node", spare, "kwok.x-k8s.io/node-")
		now := time.Now().UTC().Format(time.RFC3339)
		e.kubectl("patch", "node", spare, "--subresource=status", "-p",
			`{"status":{"conditions":[{"type":"Ready","status":"False","reason":"KubeletStopped","message":"the test stopped it","lastHeartbeatTime":"`+now+`","lastTransitionTime":"`+now+`"}]}}`)
		if after := placed(node1); after == before {
			t.Fatal("moving-0 is the same pod")
		}
		if ev := e.kubectl("-n", "web", "get", "events", "--field-selector", "involvedObject.name=moving,reason=Migrate", "-o", "jsonpath={.items[*].message}"); !strings.Contains(ev, "Instance: moving-0: node "+spare+" has not been Ready") {
			t.Fatalf("Migrate events: %q", ev)
		}
		e.kubectl("-n", "web", "delete", "tapp", "moving")
		e.kubectl("delete", "node", spare)

		// A batch TApp: restart policy Never, its instances end in Succ.
		e.apply(`{"apiVersion":"apps.tkestack.io/v1","kind":"TApp","metadata":{"name":"batch","namespace":"web"},"spec":{"replicas":2,` +
			`"template":{"metadata":{"labels":{"app":"batch"}},"spec":{"restartPolicy":"Never","containers":[{"name":"job","image":"busybox"}]}}}}`)
		framework.Eventually(t, 2*time.Minute, "the batch TApp Succ", func() error {
			if got := e.kubectl("-n", "web", "get", "tapp", "batch", "-o", `jsonpath={.status.appStatus} {.status.statuses}`); got != `Succ {"0":"Succ","1":"Succ"}` {
				return fmt.Errorf("%q", got)
			}
			return nil
		})
		e.kubectl("-n", "web", "delete", "tapp", "batch")
		k.MustRun("addon", "uninstall", e.cluster, "TApp", "--wait")
	})

	t.Run("uninstall refuses while used, then removes everything", func(t *testing.T) {
		out := k.MustFail("addon", "uninstall", e.cluster, "CronHPA")
		if !strings.Contains(out, "still used in cluster "+e.cluster+" by CronHPA web/shop") {
			t.Fatalf("uninstall while used: %s", out)
		}
		e.kubectl("get", "crd", "cronhpas.extensions.tkestack.io")
		k.MustRun("addon", "uninstall", e.cluster, "CronHPA", "--force", "--wait")
		if left := e.kubectl("get", "crd,clusterroles,leases", "-A", "-l", "platform.kstack.io/addon=cronhpa", "-o", "name"); strings.TrimSpace(left) != "" {
			t.Fatalf("left in the member: %s", left)
		}
		for _, obj := range [][]string{{"crd", "cronhpas.extensions.tkestack.io"}, {"-n", "kube-system", "lease", "kstack-addon-cronhpa"},
			{"clusterrole", "kstack-addon-cronhpa-edit"}, {"clusterrole", "kstack-addon-cronhpa-view"}} {
			if _, err := k.Kubectl(e.memberKC, append([]string{"get"}, obj...)...); err == nil || !strings.Contains(err.Error(), "NotFound") {
				t.Fatalf("%v still in the member: %v", obj, err)
			}
		}
		// What it did not make is still there.
		if r := e.replicas("shop"); r != "3" {
			t.Fatalf("shop has %s replicas after the uninstall", r)
		}
	})

	t.Run("an install that fails says why and leaves the member as it was", func(t *testing.T) {
		// Another controller's CRD of the same name, not kstack's.
		e.apply(`{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"cronhpas.extensions.tkestack.io"},` +
			`"spec":{"group":"extensions.tkestack.io","scope":"Namespaced","names":{"plural":"cronhpas","singular":"cronhpa","kind":"CronHPA"},` +
			`"versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}`)
		out := k.MustFail("addon", "install", e.cluster, "CronHPA", "--wait")
		if !strings.Contains(out, "CustomResourceDefinition cronhpas.extensions.tkestack.io is already in the member and was not made by kstack's CronHPA add-on") {
			t.Fatalf("install over another's CRD: %s", out)
		}
		if got := k.MustRun("addon", "get", e.cluster, "CronHPA"); !strings.Contains(got, "Failed") {
			t.Fatalf("addon get:\n%s", got)
		}
		if left := e.kubectl("get", "crd,clusterroles", "-l", "platform.kstack.io/addon=cronhpa", "-o", "name"); strings.TrimSpace(left) != "" {
			t.Fatalf("a failed install left %s", left)
		}
		if labels := e.kubectl("get", "crd", "cronhpas.extensions.tkestack.io", "-o", "jsonpath={.metadata.labels}"); labels != "" {
			t.Fatalf("the other CRD was changed: labels %s", labels)
		}
		k.MustRun("addon", "uninstall", e.cluster, "CronHPA", "--wait")
		e.kubectl("get", "crd", "cronhpas.extensions.tkestack.io") // not kstack's: left alone
		e.kubectl("delete", "crd", "cronhpas.extensions.tkestack.io")
	})

	t.Run("a cluster that is down gets the add-on when it is back", func(t *testing.T) {
		down, downKC := k.ImportedCluster("m2", 1)
		k.MustRun("local", "stop", "m2")
		framework.Eventually(t, 2*time.Minute, "m2 Failed", func() error {
			if out := k.MustRun("cluster", "get", down, "-o", "json"); !strings.Contains(out, `"phase": "Failed"`) && !strings.Contains(out, `"phase":"Failed"`) {
				return fmt.Errorf("not Failed yet")
			}
			return nil
		})
		// Its controller is to run outside the platform (kstack addon run).
		k.MustRun("addon", "install", down, "CronHPA", "--external-controller")
		framework.Eventually(t, time.Minute, "Waiting", func() error {
			out := k.MustRun("addon", "get", down, "CronHPA")
			if !strings.Contains(out, "Waiting") || !strings.Contains(out, "cannot be reached") {
				return fmt.Errorf("%s", out)
			}
			return nil
		})
		k.MustRun("local", "start", "m2")
		framework.Eventually(t, 3*time.Minute, "installed in m2", func() error {
			out := k.MustRun("addon", "get", down, "CronHPA")
			if !strings.Contains(out, "Running") {
				return fmt.Errorf("%s", out)
			}
			return nil
		})
		k.MustKubectl(downKC, "get", "crd", "cronhpas.extensions.tkestack.io")

		// The controller as a process of its own: it takes the member's
		// Lease and scales at the scheduled minute, as the platform would.
		run := k.Start("addon", "run", "CronHPA", "--kubeconfig", downKC, "--test-clock-file", e.clock)
		defer run.Stop()
		framework.Eventually(t, time.Minute, "kstack addon run holds the Lease", func() error {
			holder, err := k.Kubectl(downKC, "-n", "kube-system", "get", "lease", "kstack-addon-cronhpa", "-o", "jsonpath={.spec.holderIdentity}")
			if err != nil || !strings.HasPrefix(holder, "addon-run-") {
				return fmt.Errorf("holder %q: %v", holder, err)
			}
			return nil
		})
		k.MustKubectl(downKC, "create", "namespace", "web")
		k.MustKubectl(downKC, "-n", "web", "create", "deployment", "batch", "--image=nginx", "--replicas=1")
		if r := k.RunStdin(e.cronHPA("batch", "batch", "Deployment", "apps/v1", "", e.daily(13)+"=6"), "kubectl", "--kubeconfig", downKC, "apply", "-f", "-"); r.Err != nil {
			t.Fatalf("kubectl apply: %v\n%s", r.Err, r.Stderr)
		}
		e.setClock("13:00:05")
		framework.Eventually(t, 2*time.Minute, "batch scaled by kstack addon run", func() error {
			if got, _ := k.Kubectl(downKC, "-n", "web", "get", "deployment", "batch", "-o", "jsonpath={.spec.replicas}"); got != "6" {
				return fmt.Errorf("%q replicas", got)
			}
			return nil
		})
	})
}

// startReplica runs a second `kstack platform run` against the same
// kube-apiserver, with the same test clock.
func startReplica(t *testing.T, k *framework.Kstack, external, clockFile string) *framework.Proc {
	pdir := filepath.Join(k.DataDir, "platform")
	r := k.Start("platform", "run", "--kubeconfig", filepath.Join(pdir, "kubeconfig", "platform.kubeconfig"),
		"--listen", framework.FreeAddr(t), "--external-url", external,
		"--tls-cert-file", filepath.Join(pdir, "pki", "gateway.crt"), "--tls-key-file", filepath.Join(pdir, "pki", "gateway.key"),
		"--test-clock-file", clockFile)
	r.WaitOutput(t, "platform starting", 2*time.Minute)
	return r
}
