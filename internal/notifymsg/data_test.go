package notifymsg

import (
	"testing"
	"time"
)

func TestAlertOfAndCommonLabels(t *testing.T) {
	now := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	start := now.Add(-time.Minute)
	l1 := map[string]string{"alarm_policy": "p/a", "cluster": "c", "pod": "shop-1", "alarm_metric": "k8s_pod_restart_total"}
	l2 := map[string]string{"alarm_policy": "p/a", "cluster": "c", "pod": "shop-2"}
	ann := map[string]string{"metric": "k8s_pod_restart_total", "operator": ">", "threshold": "2", "value": "5"}
	a := AlertOf(l1, ann, start, time.Time{}, now)
	if a.Status != "firing" || a.Object != "shop-1" || a.Value != "5" || a.Operator != ">" || !a.EndsAt.IsZero() {
		t.Fatalf("%+v", a)
	}
	// An end in the future (Alertmanager's timeout) is still firing; one past is resolved.
	if b := AlertOf(l2, nil, start, now.Add(time.Minute), now); b.Status != "firing" || !b.EndsAt.IsZero() {
		t.Fatalf("%+v", b)
	}
	b := AlertOf(l2, nil, start, now, now)
	if b.Status != "resolved" || !b.EndsAt.Equal(now) || b.Metric != "" {
		t.Fatalf("%+v", b)
	}
	if n := AlertOf(map[string]string{"node": "n1", "cluster": "c"}, nil, start, time.Time{}, now); n.Object != "n1" {
		t.Fatalf("%+v", n)
	}
	if StatusOf([]Alert{a, b}) != "firing" || StatusOf([]Alert{b}) != "resolved" {
		t.Fatal("StatusOf")
	}
	common := CommonLabels([]Alert{a, b})
	if len(common) != 2 || common["alarm_policy"] != "p/a" || common["cluster"] != "c" {
		t.Fatalf("common %v", common)
	}
	if len(CommonLabels(nil)) != 0 {
		t.Fatal("common of none")
	}
}
