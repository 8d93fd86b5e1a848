package logagent

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/testutil/vlogs"
)

// The Loki and Elasticsearch sinks against a real store that speaks both
// (VictoriaLogs): every line arrives once and in order, across a restart of
// the agent in the middle of the stream.
func TestVictoriaLogsLokiAndElasticsearch(t *testing.T) {
	lokiVL := vlogs.Start(t)
	esVL := vlogs.Start(t)

	e := newEnv(t)
	e.setConfig(Config{Rules: []Rule{{
		Name:       "shop/vl",
		Namespaces: []string{"shop"},
		Sinks: []Sink{
			{Name: "loki", Type: SinkLoki, Loki: &LokiSink{URL: lokiVL + "/insert", Labels: map[string]string{"sink": "loki"}}},
			{Name: "es", Type: SinkElasticsearch, Elasticsearch: &ESSink{
				// VictoriaLogs' own query args name the message and time
				// fields; the path gets /_bulk appended.
				Addresses: []string{esVL + "/insert/elasticsearch/?_msg_field=message&_time_field=time&_stream_fields=cluster,namespace,pod,container"},
				Index:     "logs"}},
		},
	}}})
	p := pod("shop", "web-1", "uid-1")
	e.addPod(p)
	w := newCRIWriter(t, e.logFile(p, "app"))
	const n = 2000
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			w.line(fmt.Sprintf("V%05d", i))
			if i%10 == 0 {
				time.Sleep(5 * time.Millisecond) // about a second in all
			}
		}
	})
	first := e.start()
	eventually(t, 30*time.Second, "a part of the lines before the restart", func() bool {
		st, _ := first.agent.Status().sink("shop/vl", "es")
		return st.Delivered >= n/4
	})
	first.stop()
	before, _ := first.agent.Status().sink("shop/vl", "es")
	e.start()
	wg.Wait()
	if before.Delivered >= n {
		t.Fatalf("the first agent delivered everything (%d) before it was stopped: no restart in the middle", before.Delivered)
	}
	t.Logf("%d lines delivered to Elasticsearch before the restart", before.Delivered)
	defer func() {
		if t.Failed() {
			s, _ := e.status()
			t.Logf("status: %+v", s)
		}
	}()
	eventually(t, 60*time.Second, "every line delivered", func() bool {
		s, _ := e.status()
		a, _ := s.sink("shop/vl", "loki")
		b, _ := s.sink("shop/vl", "es")
		return a.Delivered >= n && b.Delivered >= n
	})

	for _, tc := range []struct{ name, url, query string }{
		{"loki", lokiVL, `sink:="loki" rule:="shop/vl"`},
		{"elasticsearch", esVL, `rule:="shop/vl"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := vlogs.Query(t, tc.url, tc.query)
			at := func(i int) time.Time {
				ts, err := time.Parse(time.RFC3339Nano, rows[i]["_time"])
				if err != nil {
					t.Fatalf("_time %q: %v", rows[i]["_time"], err)
				}
				return ts
			}
			sort.SliceStable(rows, func(i, j int) bool { return at(i).Before(at(j)) })
			msgs := make([]string, len(rows))
			for i, r := range rows {
				msgs[i] = r["_msg"]
			}
			checkSequence(t, msgs, "V", n)
			r := rows[0]
			for _, l := range []string{`cluster="test"`, `namespace="shop"`, `pod="web-1"`, `container="app"`} {
				if !strings.Contains(r["_stream"], l) {
					t.Errorf("stream %s lacks %s", r["_stream"], l)
				}
			}
			if want := "2025-01-02T03:04:05.001Z"; r["_time"] != want {
				t.Errorf("the first line's time %s, want the CRI time %s", r["_time"], want)
			}
		})
	}
}
