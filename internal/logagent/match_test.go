package logagent

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestWorkloadMatches(t *testing.T) {
	withHash := func(p *corev1.Pod, h string) *corev1.Pod { p.Labels["pod-template-hash"] = h; return p }
	for _, tc := range []struct {
		w    Workload
		pod  *corev1.Pod
		want bool
	}{
		{Workload{"apps", "Deployment", "api"}, withHash(ownedBy(pod("apps", "api-7d9f-x", "1"), "ReplicaSet", "api-7d9f"), "7d9f"), true},
		{Workload{"apps", "Deployment", "api"}, ownedBy(pod("apps", "api-7d9f-x", "1"), "ReplicaSet", "api-7d9f"), false},                    // no hash label
		{Workload{"apps", "Deployment", "api"}, withHash(ownedBy(pod("apps", "x", "1"), "ReplicaSet", "apiserver-1"), "1"), false},           // another deployment
		{Workload{"other", "Deployment", "api"}, withHash(ownedBy(pod("apps", "api-7d9f-x", "1"), "ReplicaSet", "api-7d9f"), "7d9f"), false}, // namespace
		{Workload{"apps", "ReplicaSet", "api-7d9f"}, ownedBy(pod("apps", "x", "1"), "ReplicaSet", "api-7d9f"), true},                         //
		{Workload{"apps", "StatefulSet", "db"}, ownedBy(pod("apps", "db-0", "1"), "StatefulSet", "db"), true},                                //
		{Workload{"apps", "DaemonSet", "db"}, ownedBy(pod("apps", "db-0", "1"), "StatefulSet", "db"), false},                                 // kind
		{Workload{"apps", "CronJob", "backup"}, ownedBy(pod("apps", "b", "1"), "Job", "backup-29000000"), true},                              //
		{Workload{"apps", "CronJob", "backup"}, ownedBy(pod("apps", "b", "1"), "Job", "backup-manual"), false},                               //
		{Workload{"apps", "CronJob", "backup"}, ownedBy(pod("apps", "b", "1"), "Job", "backup-db-29000000"), false},                          // another CronJob
		{Workload{"apps", "Job", "backup-manual"}, ownedBy(pod("apps", "b", "1"), "Job", "backup-manual"), true},                             //
		{Workload{"apps", "TApp", "t"}, ownedBy(pod("apps", "t-0", "1"), "TApp", "t"), true},                                                 //
	} {
		if got := tc.w.matches(podInfoOf(tc.pod)); got != tc.want {
			t.Errorf("%+v matches pod %s owned by %v (labels %v): %t, want %t", tc.w, tc.pod.Name, tc.pod.OwnerReferences[0].Name, tc.pod.Labels, got, tc.want)
		}
	}
	p := podInfoOf(withHash(ownedBy(pod("apps", "api-7d9f-x", "1"), "ReplicaSet", "api-7d9f"), "7d9f"))
	if k, n := p.workload(); k != "Deployment" || n != "api" {
		t.Errorf("workload of a Deployment's pod: %s %s", k, n)
	}
}

func TestConfigValidate(t *testing.T) {
	good := Rule{Name: "ns/c", Namespaces: []string{"a"}, Sinks: []Sink{{Name: "k", Type: SinkKafka, Kafka: &KafkaSink{Brokers: []string{"b:9092"}, Topic: "t"}}}}
	if err := (&Config{Rules: []Rule{good}}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mod  func(r *Rule)
		want string
	}{
		{func(r *Rule) { r.HostFiles = []string{"/etc/passwd"} }, "refused"},
		{func(r *Rule) { r.HostFiles = []string{"/var/log/../etc/shadow"} }, "refused"},
		{func(r *Rule) { r.HostFiles = []string{"var/log/x"} }, "refused"},
		{func(r *Rule) { r.HostFiles = []string{"/var/logs/x"} }, "refused"},
		{func(r *Rule) { r.Workloads = []Workload{{"a", "Pod", "x"}} }, "kind"},
		{func(r *Rule) {
			r.ContainerFiles = []ContainerFile{{Workload: Workload{"a", "Deployment", "x"}, Container: "c", Path: "rel/x.log"}}
		}, "absolute"},
		{func(r *Rule) { r.Sinks[0].Type = "loki" }, "loki needs"},
		{func(r *Rule) { r.Sinks = nil }, "no sinks"},
	} {
		r := good
		r.Sinks = slices.Clone(good.Sinks)
		tc.mod(&r)
		err := (&Config{Rules: []Rule{r}}).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error with %q", r, err, tc.want)
		}
	}
	if err := (&Config{Rules: []Rule{good, good}}).Validate(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate rule names: %v", err)
	}
}

// pairs are the (rule, pod, message) the Loki stand-in got, sorted.
func (l *lokiStandIn) pairs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ll := range l.lines {
		out = append(out, ll.labels["rule"]+" "+ll.labels["pod"]+" "+ll.msg)
	}
	sort.Strings(out)
	return out
}

func TestRuleMatching(t *testing.T) {
	e := newEnv(t)
	loki := newLokiStandIn(t)
	withMeta := func(r Rule) Rule { r.Sinks[0].Loki.StructuredMetadata = true; return r }
	e.setConfig(Config{Rules: []Rule{
		lokiRule("a/ns", loki.URL, "shop"),
		withMeta(Rule{Name: "a/deploy", Workloads: []Workload{{"apps", "Deployment", "api"}}, Sinks: lokiRule("", loki.URL).Sinks}),
		{Name: "a/later", Workloads: []Workload{{"apps", "StatefulSet", "db"}}, Sinks: lokiRule("", loki.URL).Sinks},
		{Name: "a/cron", Workloads: []Workload{{"apps", "CronJob", "backup"}}, Sinks: lokiRule("", loki.URL).Sinks},
		lokiRule("a/all", loki.URL, AllNamespaces),
	}})
	hash := func(p *corev1.Pod, h string) *corev1.Pod { p.Labels["pod-template-hash"] = h; return p }
	pods := []*corev1.Pod{
		pod("shop", "p1", "u1"),
		pod("other", "p2", "u2"),
		hash(ownedBy(pod("apps", "api-7d9f-x", "u3"), "ReplicaSet", "api-7d9f"), "7d9f"),
		ownedBy(pod("apps", "api-old", "u4"), "ReplicaSet", "api-7d9f"),
		hash(ownedBy(pod("apps", "apiserver-1-x", "u5"), "ReplicaSet", "apiserver-1"), "1"),
		ownedBy(pod("apps", "backup-29000000-x", "u6"), "Job", "backup-29000000"),
		ownedBy(pod("apps", "backup-manual-x", "u7"), "Job", "backup-manual"),
	}
	for _, p := range pods {
		e.addPod(p)
		newCRIWriter(t, e.logFile(p, "app")).line("hello from " + p.Name)
	}
	e.start()
	want := []string{
		"a/cron backup-29000000-x hello from backup-29000000-x",
		"a/deploy api-7d9f-x hello from api-7d9f-x",
		"a/ns p1 hello from p1",
	}
	for _, p := range pods {
		want = append(want, "a/all "+p.Name+" hello from "+p.Name)
	}
	sort.Strings(want)
	eventually(t, 10*time.Second, "the matching pods' lines", func() bool { return len(loki.pairs()) >= len(want) })

	// A workload that did not exist when the rule was loaded.
	db := ownedBy(pod("apps", "db-0", "u8"), "StatefulSet", "db")
	e.addPod(db)
	newCRIWriter(t, e.logFile(db, "app")).line("hello from db-0")
	want = append(want, "a/later db-0 hello from db-0", "a/all db-0 hello from db-0")
	sort.Strings(want)
	eventually(t, 10*time.Second, "the new workload's line", func() bool { return len(loki.pairs()) >= len(want) })
	time.Sleep(300 * time.Millisecond)
	if got := loki.pairs(); !slices.Equal(got, want) {
		t.Fatalf("delivered:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	loki.mu.Lock()
	for _, l := range loki.lines {
		if l.labels["rule"] == "a/deploy" && (l.meta["workload_kind"] != "Deployment" || l.meta["workload_name"] != "api" || l.meta["node"] != "node-1" || l.meta["stream"] != "stdout") {
			t.Errorf("structured metadata of a Deployment's line: %v", l.meta)
		}
	}
	loki.mu.Unlock()
	eventually(t, 5*time.Second, "the status to count the files", func() bool {
		s, ok := e.status()
		r, _ := s.rule("a/later")
		return ok && r.Files == 1
	})
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

func (l *lokiStandIn) files() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ll := range l.lines {
		out = append(out, ll.meta["file"]+" "+ll.msg)
	}
	sort.Strings(out)
	return out
}

// Files inside containers, found under --container-root (local clusters),
// never through a symlink out of the container.
func TestContainerFiles(t *testing.T) {
	e := newEnv(t)
	loki := newLokiStandIn(t)
	sinks := lokiRule("", loki.URL).Sinks
	sinks[0].Loki.StructuredMetadata = true
	e.setConfig(Config{Rules: []Rule{{Name: "a/files", Sinks: sinks, ContainerFiles: []ContainerFile{{
		Workload: Workload{"apps", "Deployment", "web"}, Container: "app", Path: "/var/log/app/**/*.log"}}}}})
	p := ownedBy(pod("apps", "web-h-1", "u1"), "ReplicaSet", "web-h")
	p.Labels["pod-template-hash"] = "h"
	p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar"})
	e.addPod(p)
	root := expandRoot(e.containerRoot, podInfoOf(p), "app")
	write(t, filepath.Join(root, "var/log/app/a.log"), "a1\n")
	write(t, filepath.Join(root, "var/log/app/sub/b.log"), "b1\n")
	write(t, filepath.Join(root, "var/log/app/other.txt"), "not matched\n")
	secret := filepath.Join(t.TempDir(), "secret")
	write(t, secret, "host secret\n")
	if err := os.Symlink(secret, filepath.Join(root, "var/log/app/abs.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../../../../../../.."+secret, filepath.Join(root, "var/log/app/rel.log")); err != nil {
		t.Fatal(err)
	}
	// The sidecar's files are not the app container's.
	write(t, filepath.Join(expandRoot(e.containerRoot, podInfoOf(p), "sidecar"), "var/log/app/s.log"), "sidecar\n")
	e.start()
	eventually(t, 10*time.Second, "the container files' lines", func() bool { return len(loki.files()) >= 2 })
	appendTo(t, filepath.Join(root, "var/log/app/a.log"), "a2\n")
	write(t, filepath.Join(root, "var/log/app/new.log"), "n1\n")
	want := []string{"/var/log/app/a.log a1", "/var/log/app/a.log a2", "/var/log/app/new.log n1", "/var/log/app/sub/b.log b1"}
	eventually(t, 10*time.Second, "lines of a new file", func() bool { return len(loki.files()) >= len(want) })
	time.Sleep(300 * time.Millisecond)
	if got := loki.files(); !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
}

// Without --container-root, container files are read from the emptyDir
// volume mounted over them, as the kubelet lays it out.
func TestContainerFilesInEmptyDir(t *testing.T) {
	e := newEnv(t)
	e.containerRoot = ""
	loki := newLokiStandIn(t)
	sinks := lokiRule("", loki.URL).Sinks
	sinks[0].Loki.StructuredMetadata = true
	e.setConfig(Config{Rules: []Rule{{Name: "a/files", Sinks: sinks, ContainerFiles: []ContainerFile{
		{Workload: Workload{"apps", "StatefulSet", "db"}, Container: "app", Path: "/data/logs/*.log"},
		{Workload: Workload{"apps", "StatefulSet", "db"}, Container: "app", Path: "/usr/local/app.log"},
	}}}})
	p := ownedBy(pod("apps", "db-0", "u1"), "StatefulSet", "db")
	p.Spec.Volumes = []corev1.Volume{{Name: "logs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "logs", MountPath: "/data/logs"}}
	e.addPod(p)
	write(t, filepath.Join(e.hostRoot, "var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/logs/x.log"), "x1\n")
	e.start()
	eventually(t, 10*time.Second, "the emptyDir file's line", func() bool { return len(loki.files()) >= 1 })
	if got := loki.files(); !slices.Equal(got, []string{"/data/logs/x.log x1"}) {
		t.Fatalf("delivered %q", got)
	}
	eventually(t, 5*time.Second, "the status to explain the file outside any emptyDir", func() bool {
		s, _ := e.status()
		r, _ := s.rule("a/files")
		return strings.Contains(r.Error, "/usr/local/app.log") && strings.Contains(r.Error, "emptyDir")
	})
}

// Host files: only under /var/log (refused otherwise, and no symlink leads
// out); files present at the rule's first scan are read from their end,
// files appearing later from their start.
func TestHostFiles(t *testing.T) {
	e := newEnv(t)
	loki := newLokiStandIn(t)
	logDir := filepath.Join(e.hostRoot, "var/log")
	write(t, filepath.Join(logDir, "syslog"), "old line\n")
	write(t, filepath.Join(e.hostRoot, "etc/passwd"), "root:x:0:0\n")
	write(t, filepath.Join(logDir, "app/keep.log"), "")
	if err := os.Symlink("../../etc/passwd", filepath.Join(logDir, "app/evil.log")); err != nil {
		t.Fatal(err)
	}
	rule := lokiRule("a/host", loki.URL)
	rule.Sinks[0].Loki.StructuredMetadata = true
	rule.HostFiles = []string{"/var/log/syslog", "/var/log/../etc/passwd", "/etc/passwd", "/var/log/app/*.log"}
	e.setConfig(Config{Rules: []Rule{rule}})
	e.start()
	eventually(t, 5*time.Second, "the status to refuse the paths outside /var/log", func() bool {
		s, _ := e.status()
		r, _ := s.rule("a/host")
		return strings.Contains(r.Error, "refused") && r.Files == 2
	})
	appendTo(t, filepath.Join(logDir, "syslog"), "new line\n")
	write(t, filepath.Join(logDir, "app/late.log"), "late first\n")
	eventually(t, 10*time.Second, "the host files' lines", func() bool { return len(loki.files()) >= 2 })
	time.Sleep(300 * time.Millisecond)
	want := []string{"/var/log/app/late.log late first", "/var/log/syslog new line"}
	if got := loki.files(); !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	loki.mu.Lock()
	for _, l := range loki.lines {
		if l.labels["node"] != "node-1" || l.labels["filename"] == "" || l.labels["pod"] != "" {
			t.Errorf("host file line labels %v", l.labels)
		}
	}
	loki.mu.Unlock()
	if strings.Contains(e.log.String(), "root:x") {
		t.Error("the agent logged the content of a file outside /var/log")
	}
}
