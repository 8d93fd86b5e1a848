package selfmetrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kstack/kstack/internal/audit"
)

func TestObserve(t *testing.T) {
	m := New()
	m.Observe(audit.Entry{Method: "GET", Code: 200, Latency: 20 * time.Millisecond})
	m.Observe(audit.Entry{Method: "GET", Code: 403, Cluster: "cls-a", Latency: time.Millisecond})
	m.Observe(audit.Entry{Method: "POST", Code: 201, Cluster: "cls-a", Origin: &audit.Origin{Via: audit.ViaConsole}})
	want := `
# HELP kstack_gateway_requests_total Requests the gateway served, by method, status code and target (platform, member, console).
# TYPE kstack_gateway_requests_total counter
kstack_gateway_requests_total{code="200",method="GET",target="platform"} 1
kstack_gateway_requests_total{code="201",method="POST",target="console"} 1
kstack_gateway_requests_total{code="403",method="GET",target="member"} 1
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "kstack_gateway_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.latency); n != 3 {
		t.Errorf("latency histograms: %d, want one per target", n)
	}
}

func TestHealth(t *testing.T) {
	m := New()
	m.Collector(NewHealthCollector(func() []Health {
		return []Health{{Cluster: "cls-a", Healthy: true, LastProbe: time.Now()}, {Cluster: "cls-b"}}
	}))
	want := `
# HELP kstack_cluster_healthy 1 when the member's last health probes passed, 0 when it counts as down.
# TYPE kstack_cluster_healthy gauge
kstack_cluster_healthy{member="cls-a"} 1
kstack_cluster_healthy{member="cls-b"} 0
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "kstack_cluster_healthy"); err != nil {
		t.Error(err)
	}
	// A member never probed has no probe age (absent, not zero).
	if n := testutil.CollectAndCount(NewHealthCollector(func() []Health { return []Health{{Cluster: "cls-b"}} }), "kstack_cluster_probe_age_seconds"); n != 0 {
		t.Errorf("probe age of a member never probed: %d series", n)
	}
}
