// Package logs holds the end-to-end test of log collection: a project's
// rule, made through the platform API, is carried out by the log agent
// beside a real local cluster, which ships a pod's lines to a Kafka cluster
// (franz-go's kfake, with SASL, in this process) and to a real VictoriaLogs
// through its Loki push and Elasticsearch _bulk APIs, each line once and
// in order across a restart of the agent.
package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/kstack/kstack/internal/localcluster"
	"github.com/kstack/kstack/internal/testutil/vlogs"
	"github.com/kstack/kstack/test/e2e/framework"
)

const lines = 300

func TestLogCollection(t *testing.T) {
	vl := vlogs.Start(t)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "logs"), kfake.EnableSASL(), kfake.Superuser("PLAIN", "agent", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	brokers := kc.ListenAddrs()

	k := framework.New(t)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD=Adm1n-Passw0rd")
	// The sinks run on this machine: loopback is allowed here, as an
	// administrator would allow a lab's addresses.
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(t), "--platform-arg=--dial-allow=127.0.0.0/8")
	hc, adminTok := k.PlatformHTTP()
	cluster, _ := k.ImportedCluster("c1", 1)
	clusterID = cluster
	framework.CreateUser(t, k, "alice", "Passw0rd-Alice1")
	prj := strings.TrimSpace(k.MustRun("project", "create", "team-a", "--cluster", cluster, "--cpu", "4", "--memory", "8Gi", "--pods", "20", "-o", "name"))
	k.MustRun("project", "add-member", prj, "alice")
	k.MustRun("namespace", "create", "web", "--project", prj, "--cluster", cluster, "--cpu", "2", "--memory", "2Gi", "--pods", "10")
	alice := framework.Login(t, k, "default", "alice", "Passw0rd-Alice1")
	aliceTok := framework.Token(t, alice)
	akc := filepath.Join(t.TempDir(), "alice.kubeconfig")
	alice.MustRun("kubeconfig", "--cluster", cluster, "-f", akc)

	rules := p.ConsoleURL + "/logagent/apis/logagent.tkestack.io/v1/namespaces/" + prj + "/logcollectors"
	t.Run("bad input", func(t *testing.T) {
		for _, tt := range []struct{ what, body, want string }{
			{"a container file outside the allowed pattern", rule("bad-path", `{"type":"ContainerFile","containerFiles":[{"workload":{"kind":"Deployment","name":"shop"},"container":"app","path":"logs/../../etc/passwd"}]}`, kafkaOut(brokers[0], "")),
				"must be an absolute, clean path"},
			{"files on nodes by a project member", rule("bad-host", `{"type":"HostFile","hostFiles":["/var/log/syslog"]}`, kafkaOut(brokers[0], "")),
				"platform administrators only"},
			{"a namespace of no project of hers", strings.Replace(rule("bad-ns", `{"type":"ContainerStdout"}`, kafkaOut(brokers[0], "")), `"namespace":"web"`, `"namespace":"kube-system"`, 1),
				"is not a namespace of project"},
			{"an output without its settings", rule("bad-out", `{"type":"ContainerStdout"}`, `{"name":"k","type":"kafka"}`), "set exactly the field of its type"},
		} {
			code, body := framework.Do(t, hc, "POST", rules, aliceTok, "", "application/json", tt.body)
			if code < 400 || !strings.Contains(strings.ReplaceAll(body, `\"`, `"`), tt.want) {
				t.Errorf("%s: %d %s, want a refusal with %q", tt.what, code, body, tt.want)
			}
		}
		// A workload that does not exist yet is accepted: the rule applies
		// when it appears (the rule below names shop before it exists).
	})

	// Alice's rule: the standard output of deployment shop, to three sinks;
	// the Kafka password goes into a Secret and never comes back.
	outputs := kafkaOut(brokers[0], "s3cret") + `,{"name":"loki","type":"loki","loki":{"url":"` + vl + `/insert","labels":{"sink":"loki"}}}` +
		`,{"name":"es","type":"elasticsearch","elasticsearch":{"addresses":["` + vl + `/insert/elasticsearch/?_msg_field=message&_time_field=time&_stream_fields=sink,namespace,pod"],"index":"logs"}}`
	code, body := framework.Do(t, hc, "POST", rules, aliceTok, "", "application/json",
		rule("shop-logs", `{"type":"ContainerStdout","workloads":[{"kind":"Deployment","name":"shop"}]}`, outputs))
	if code != http.StatusCreated || strings.Contains(body, "s3cret") {
		t.Fatalf("creating the rule: %d %s", code, body)
	}
	alice.MustKubectl(akc, "-n", "web", "create", "deployment", "shop", "--image=nginx", "--replicas=1")
	// The namespace's quota wants requests.
	alice.MustKubectl(akc, "-n", "web", "set", "resources", "deployment", "shop", "--requests=cpu=100m,memory=64Mi")
	var pod struct {
		Metadata struct{ Name, UID string }
		Spec     struct{ Containers []struct{ Name string } }
	}
	framework.Eventually(t, 2*time.Minute, "shop's pod running", func() error {
		out, err := alice.Kubectl(akc, "-n", "web", "get", "pods", "-l", "app=shop", "--field-selector=status.phase=Running", "-o", "jsonpath={.items[0]}")
		if err != nil || out == "" {
			return fmt.Errorf("%v %s", err, out)
		}
		return json.Unmarshal([]byte(out), &pod)
	})
	waitStatus(t, hc, rules+"/shop-logs", aliceTok, func(s ruleStatus) error {
		if s.Status.Phase != "Running" {
			return fmt.Errorf("phase %q: %s", s.Status.Phase, s.Status.Message)
		}
		return nil
	})

	dir := filepath.Join(k.DataDir, "clusters", "c1")
	write := func(from, to int) {
		for i := from; i < to; i++ {
			if err := localcluster.AppendContainerLog(dir, "web", pod.Metadata.Name, pod.Metadata.UID, pod.Spec.Containers[0].Name, fmt.Sprintf("kstack-line-%05d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, lines/2)
	waitStatus(t, hc, rules+"/shop-logs", aliceTok, func(s ruleStatus) error {
		for _, o := range s.Status.Outputs {
			if o.Delivered < lines/4 {
				return fmt.Errorf("output %s delivered %d", o.Name, o.Delivered)
			}
		}
		return nil
	})
	// The agent restarts in the middle of the stream (the local cluster's
	// supervisor starts it again), while lines keep coming.
	var wg sync.WaitGroup
	wg.Go(func() { write(lines/2, lines) })
	restartAgent(t, dir)
	wg.Wait()

	t.Run("kafka", func(t *testing.T) {
		var msgs []string
		framework.Eventually(t, 2*time.Minute, "every line in Kafka", func() error {
			msgs = consume(t, brokers)
			if n := countPrefix(msgs); n < lines {
				return fmt.Errorf("%d of %d lines", n, lines)
			}
			return nil
		})
		checkSequence(t, msgs)
	})
	for _, sink := range []struct{ name, query string }{
		{"loki", `sink:="loki" kstack-line-`},
		{"elasticsearch", `"kstack-line-" -sink:="loki"`},
	} {
		t.Run(sink.name, func(t *testing.T) {
			var msgs []string
			framework.Eventually(t, 2*time.Minute, "every line in VictoriaLogs through "+sink.name, func() error {
				rows := vlogs.Query(t, vl, sink.query)
				sort.SliceStable(rows, func(i, j int) bool { return rows[i]["_time"] < rows[j]["_time"] })
				msgs = msgs[:0]
				for _, r := range rows {
					msgs = append(msgs, r["_msg"])
				}
				if n := countPrefix(msgs); n < lines {
					return fmt.Errorf("%d of %d lines", n, lines)
				}
				return nil
			})
			checkSequence(t, msgs)
		})
	}

	// An unreachable output: the rule shows the error.
	code, body = framework.Do(t, hc, "POST", rules, aliceTok, "", "application/json",
		rule("nowhere", `{"type":"ContainerStdout"}`, kafkaOut(closedAddr(t), "")))
	if code != http.StatusCreated {
		t.Fatalf("creating a rule with an unreachable output: %d %s", code, body)
	}
	write(lines, lines+5)
	waitStatus(t, hc, rules+"/nowhere", aliceTok, func(s ruleStatus) error {
		if s.Status.Phase != "Failing" || !strings.Contains(s.Status.Message, "output k") || len(s.Status.Outputs) != 1 || s.Status.Outputs[0].Healthy {
			return fmt.Errorf("status %+v", s.Status)
		}
		return nil
	})
	// The password is in the platform's Secret, not in the rule.
	if code, body := framework.Do(t, hc, "GET", rules+"/shop-logs", adminTok, "", "", ""); code != http.StatusOK || strings.Contains(body, "s3cret") || !strings.Contains(body, "passwordSecret") {
		t.Fatalf("reading the rule back: %d %s", code, body)
	}
}

// clusterID is the member's ID, for rule.
var clusterID string

func rule(name, input, outputs string) string {
	return `{"apiVersion":"logagent.tkestack.io/v1","kind":"LogCollector","metadata":{"name":"` + name + `"},"spec":{"clusterName":"` + clusterID +
		`","namespace":"web","input":` + input + `,"outputs":[` + outputs + `]}}`
}

func kafkaOut(broker, password string) string {
	creds := ""
	if password != "" {
		creds = `,"username":"agent","password":"` + password + `"`
	}
	return `{"name":"k","type":"kafka","kafka":{"brokers":["` + broker + `"],"topic":"logs"` + creds + `}}`
}

type ruleStatus struct {
	Status struct {
		Phase, Message string
		Outputs        []struct {
			Name                       string
			Delivered, Queued, Dropped int64
			Healthy                    bool
			LastError                  string
		}
	}
}

func waitStatus(t *testing.T, hc *http.Client, url, token string, ok func(ruleStatus) error) {
	t.Helper()
	framework.Eventually(t, 2*time.Minute, "the rule's status", func() error {
		code, body := framework.Do(t, hc, "GET", url, token, "", "", "")
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		var s ruleStatus
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			return err
		}
		return ok(s)
	})
}

// restartAgent kills the cluster's log agent; its supervisor starts it
// again on the same state directory.
func restartAgent(t *testing.T, dir string) {
	t.Helper()
	out, err := exec.Command("pgrep", "-f", "logagent .*"+dir).Output()
	pids := strings.Fields(string(out))
	if err != nil || len(pids) == 0 {
		t.Fatalf("no log agent of %s running: %v", dir, err)
	}
	if err := exec.Command("kill", append([]string{"-TERM"}, pids...)...).Run(); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, time.Minute, "the log agent started again", func() error {
		out, _ := exec.Command("pgrep", "-f", "logagent .*"+dir).Output()
		for _, p := range strings.Fields(string(out)) {
			if !contains(pids, p) {
				return nil
			}
		}
		return fmt.Errorf("not yet")
	})
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// consume reads the topic from its start.
func consume(t *testing.T, brokers []string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("logs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SASL(plain.Auth{User: "agent", Pass: "s3cret"}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var msgs []string
	// The pod's heartbeat keeps the topic growing: read for a bounded time.
	for start := time.Now(); time.Since(start) < 20*time.Second; {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			var rec struct{ Message string }
			if json.Unmarshal(r.Value, &rec) == nil {
				msgs = append(msgs, rec.Message)
			}
			n++
		})
		if n == 0 {
			return msgs
		}
	}
	return msgs
}

func countPrefix(msgs []string) int {
	n := 0
	for _, m := range msgs {
		if strings.HasPrefix(m, "kstack-line-") {
			n++
		}
	}
	return n
}

// checkSequence: the test's lines, in order, each once, none missing.
func checkSequence(t *testing.T, msgs []string) {
	t.Helper()
	next := 0
	for _, m := range msgs {
		if !strings.HasPrefix(m, "kstack-line-") {
			continue
		}
		want := fmt.Sprintf("kstack-line-%05d", next)
		if m != want {
			t.Fatalf("line %q where %q was due (a line lost, repeated or out of order)", m, want)
		}
		next++
	}
	if next != lines {
		t.Fatalf("%d of %d lines", next, lines)
	}
}

func closedAddr(t *testing.T) string {
	return framework.FreeAddr(t)
}
