package alarmsilence

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/labelset"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
)

func silence(ns, name, tenant string, start, end time.Time, ms ...monitorv1.Matcher) *monitorv1.AlarmSilence {
	s := &monitorv1.AlarmSilence{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: monitorv1.AlarmSilenceSpec{TenantID: tenant, Matchers: ms, EndsAt: metav1.Time{Time: end}}}
	if !start.IsZero() {
		s.Spec.StartsAt = &metav1.Time{Time: start}
	}
	return s
}

func lset(policy, tenant string, extra ...string) labelset.LabelSet {
	ls := model.LabelSet{"alarm_policy": model.LabelValue(policy), "tenant": model.LabelValue(tenant)}
	for i := 0; i+1 < len(extra); i += 2 {
		ls[model.LabelName(extra[i])] = model.LabelValue(extra[i+1])
	}
	return labelset.FromModel(ls)
}

func TestMutes(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	hour := time.Hour
	sch := runtime.NewScheme()
	_ = monitorv1.AddToScheme(sch)
	objs := []client.Object{
		// Project A silences everything it can: all policies, by regex.
		silence("prj-a", "all", "default", now.Add(-hour), now.Add(hour), monitorv1.Matcher{Name: "alarm_policy", Value: ".*", Type: "=~"}),
		// Project B silences one pod of its own policy.
		silence("prj-b", "pod", "default", time.Time{}, now.Add(hour),
			monitorv1.Matcher{Name: "alarm_policy", Value: "prj-b/p"}, monitorv1.Matcher{Name: "pod", Value: "web-1"}),
		// Project C: one that has not started, one that ended.
		silence("prj-c", "later", "default", now.Add(hour), now.Add(2*hour), monitorv1.Matcher{Name: "alarm_policy", Value: "prj-c/p"}),
		silence("prj-c", "over", "default", now.Add(-2*hour), now.Add(-hour), monitorv1.Matcher{Name: "alarm_policy", Value: "prj-c/p"}),
		// Tenant t1's silence of cluster policies in kstack-system.
		silence("kstack-system", "t1", "t1", now.Add(-hour), now.Add(hour), monitorv1.Matcher{Name: "cluster", Value: "cls-1"}),
	}
	m := &Muter{Client: fake.NewClientBuilder().WithScheme(sch).WithObjects(objs...).Build(), Now: func() time.Time { return now }}
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		ls   labelset.LabelSet
		want bool
	}{
		{"own project, regex", lset("prj-a/p", "default"), true},
		{"another project's alarm, whatever the matchers", lset("prj-x/p", "default"), false},
		{"namespace prefix is exact", lset("prj-ab/p", "default"), false},
		{"matching pod", lset("prj-b/p", "default", "pod", "web-1"), true},
		{"other pod", lset("prj-b/p", "default", "pod", "web-2"), false},
		{"not started", lset("prj-c/p", "default"), false},
		{"ended", lset("prj-c/p", "default"), false},
		{"own tenant's cluster policy", lset("kstack-system/alarm-1", "t1", "cluster", "cls-1"), true},
		{"another tenant's cluster policy", lset("kstack-system/alarm-2", "t2", "cluster", "cls-1"), false},
		{"no policy label", labelset.FromModel(model.LabelSet{"pod": "web-1"}), false},
	} {
		if got := m.Mutes(ctx, tt.ls); got != tt.want {
			t.Errorf("%s: muted %v, want %v", tt.name, got, tt.want)
		}
	}
	// A failing list mutes nothing and says so.
	var seen error
	failing := &Muter{Client: fake.NewClientBuilder().WithScheme(sch).WithInterceptorFuncs(interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return errors.New("down")
		},
	}).Build(), OnError: func(err error) { seen = err }}
	if failing.Mutes(ctx, lset("prj-a/p", "default")) || seen == nil {
		t.Fatal("a failing list muted, or was not reported")
	}
}

func TestMatchers(t *testing.T) {
	if _, err := Matchers([]monitorv1.Matcher{{Name: "a", Value: "(", Type: "=~"}}); err == nil {
		t.Fatal("a bad regex was accepted")
	}
	if _, err := Matchers([]monitorv1.Matcher{{Name: "a", Value: "b", Type: "=="}}); err == nil {
		t.Fatal("an unknown type was accepted")
	}
	ms, err := Matchers([]monitorv1.Matcher{{Name: "a", Value: "b"}, {Name: "c", Value: "d.*", Type: "!~"}})
	if err != nil || len(ms) != 2 || !ms.Matches(model.LabelSet{"a": "b", "c": "x"}) || ms.Matches(model.LabelSet{"a": "b", "c": "dd"}) {
		t.Fatalf("%v %v", ms, err)
	}
}
