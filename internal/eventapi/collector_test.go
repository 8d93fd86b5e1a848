package eventapi

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRecord(t *testing.T) {
	last := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-1.abc", Namespace: "web", UID: "u-1", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "x"}}},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1"},
		Reason:         "BackOff", Count: 3, LastTimestamp: metav1.NewTime(last),
		Source: corev1.EventSource{Component: "kubelet"},
	}
	projectOf := func(_ context.Context, cluster, ns string) string {
		if cluster == "cls-a" && ns == "web" {
			return "prj-1"
		}
		return ""
	}
	rec := Record(context.Background(), ev, "cls-a", "t1", projectOf)
	if rec.Kind != Kind || rec.UID != "u-1" || rec.Tenant != "t1" || rec.Cluster != "cls-a" || rec.Namespace != "web" || rec.Project != "prj-1" ||
		rec.Resource != "Pod" || rec.Name != "web-1" || rec.Verb != "BackOff" || rec.User != "kubelet" || !rec.Time.Equal(last) {
		t.Errorf("record %+v", rec)
	}
	var back corev1.Event
	if err := json.Unmarshal(rec.Data, &back); err != nil || back.Count != 3 || back.ManagedFields != nil {
		t.Errorf("stored event %+v (%v): want the event with its count, without managed fields", back, err)
	}
	// events.k8s.io events carry eventTime and a reporting controller only.
	ev2 := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "kube-system", UID: "u-2", CreationTimestamp: metav1.NewTime(last.Add(-time.Hour))},
		EventTime: metav1.NewMicroTime(last.Add(time.Minute)), ReportingController: "kstack.io/test"}
	rec2 := Record(context.Background(), ev2, "cls-a", "t1", projectOf)
	if !rec2.Time.Equal(last.Add(time.Minute)) || rec2.User != "kstack.io/test" || rec2.Project != "" {
		t.Errorf("record of an events.k8s.io event %+v", rec2)
	}
}
