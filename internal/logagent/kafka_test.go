package logagent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// kafkaConsumer reads a topic from its start in the background.
type kafkaConsumer struct {
	mu   sync.Mutex
	recs []*kgo.Record
}

func consume(t *testing.T, brokers []string, topic, user, pass string) *kafkaConsumer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c := &kafkaConsumer{}
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			f := cl.PollFetches(ctx)
			c.mu.Lock()
			f.EachRecord(func(r *kgo.Record) { c.recs = append(c.recs, r) })
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return c
}

func (c *kafkaConsumer) records() []*kgo.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*kgo.Record(nil), c.recs...)
}

// A Deployment's pod's lines reach Kafka in order, each once, while the agent
// is stopped in the middle of the stream and a new one started on the same
// state dir, and while the log rotates and has partial lines.
func TestKafkaInOrderOnceAcrossRestart(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "logs"), kfake.EnableSASL(), kfake.Superuser("PLAIN", "agent", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	brokers := kc.ListenAddrs()

	e := newEnv(t)
	e.setSecret(map[string]string{"kafka-password": "s3cret"})
	e.setConfig(Config{Rules: []Rule{{
		Name:      "apps/web-logs",
		Workloads: []Workload{{"apps", "Deployment", "web"}},
		Sinks: []Sink{{Name: "kafka", Type: SinkKafka, Kafka: &KafkaSink{
			Brokers: brokers, Topic: "logs", Username: "agent", PasswordKey: "kafka-password"}}},
	}}})
	p := ownedBy(pod("apps", "web-5c8d-abcde", "uid-web"), "ReplicaSet", "web-5c8d")
	p.Labels["pod-template-hash"] = "5c8d"
	e.addPod(p)
	w := newCRIWriter(t, e.logFile(p, "app"))

	const n = 3000
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			msg := fmt.Sprintf("K%05d", i)
			if i%97 == 0 {
				w.line(msg[3:], msg[:1], msg[1:3]) // partial lines
			} else {
				w.line(msg)
			}
			if i == n/2 {
				w.rotate()
			}
			if i%10 == 0 {
				time.Sleep(5 * time.Millisecond) // 1.5 s in all
			}
		}
	})
	cons := consume(t, brokers, "logs", "agent", "s3cret")
	first := e.start()
	eventually(t, 30*time.Second, "a third of the lines before the restart", func() bool { return len(cons.records()) >= n/3 })
	first.stop()
	before := len(cons.records())
	time.Sleep(200 * time.Millisecond)
	e.start()
	wg.Wait()
	eventually(t, 60*time.Second, "every line", func() bool { return len(cons.records()) >= n })
	time.Sleep(500 * time.Millisecond) // anything repeated would arrive now
	recs := cons.records()
	if before >= n {
		t.Fatalf("the first agent delivered everything (%d) before it was stopped: no restart in the middle", before)
	}
	msgs := make([]string, len(recs))
	for i, r := range recs {
		var rec Record
		if err := json.Unmarshal(r.Value, &rec); err != nil {
			t.Fatalf("record %d: %v: %s", i, err, r.Value)
		}
		msgs[i] = rec.Message
		if i == 0 {
			want := Record{Time: rec.Time, Cluster: "test", Namespace: "apps", Pod: "web-5c8d-abcde", Container: "app",
				WorkloadKind: "Deployment", WorkloadName: "web", Node: "node-1", Stream: "stdout", Message: "K00000", Rule: "apps/web-logs"}
			if rec != want || rec.Time.IsZero() {
				t.Errorf("record %+v, want %+v", rec, want)
			}
			if k := string(r.Key); !strings.HasPrefix(k, w.path+"#") || !strings.HasSuffix(k, "@0") {
				t.Errorf("key %q: want the file identity and the offset", k)
			}
		}
	}
	checkSequence(t, msgs, "K", n)
	t.Logf("%d lines delivered before the restart, %d after", before, n-before)
}
