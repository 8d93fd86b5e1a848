package monitorapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/apigroup/apigrouptest"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/notifyapi"
	"github.com/kstack/kstack/internal/recordstore"
)

const sysNS = "kstack-system"

var (
	admin  = &directory.Principal{Username: "admin", Tenant: "default", SuperAdmin: true}
	pa     = &directory.Principal{Username: "pa", Tenant: "default"} // administers prjA (cls-a: web)
	pm     = &directory.Principal{Username: "pm", Tenant: "default"} // member of prjA
	pv     = &directory.Principal{Username: "pv", Tenant: "default"} // reads prjA
	pb     = &directory.Principal{Username: "pb", Tenant: "default"} // member of prjB (cls-b: web; cls-a: shop)
	ca     = &directory.Principal{Username: "ca", Tenant: "default"} // anything in cls-a, nothing of the platform's namespace
	tu     = &directory.Principal{Username: "tu", Tenant: "default"} // platform user of the tenant
	oa     = &directory.Principal{Username: "oa", Tenant: "other"}   // administers prjO (cls-o: web)
	nobody = &directory.Principal{Username: "nobody", Tenant: "default"}
)

func tlabel(tenant string) map[string]string { return map[string]string{authv1.LabelTenant: tenant} }

// alarmModule is module's group with the platform's namespace, monitoring
// on in cls-a and cls-o (off in cls-b), a group interval of 5m, more
// callers (pm, pv, tu), and notification objects: in prjA receiver alice,
// group team, channels hook (webhook) and smtp (email), templates hook and
// mail; in prjB the same hook pair and receiver bob; in the platform's
// namespace the tenant's chn-shared, tpl-shared, rcv-shared, rcvg-shared
// and the other tenant's chn-theirs, tpl-theirs; in prjO a hook pair.
func alarmModule(t *testing.T) (*Module, client.Client) {
	t.Helper()
	m := module(t)
	m.Env.SystemNamespace = sysNS
	m.GroupInterval = 5 * time.Minute
	c := m.Env.Client
	ctx := context.Background()
	for _, name := range []string{"cls-a", "cls-o"} {
		var cl platformv1.Cluster
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &cl); err != nil {
			t.Fatal(err)
		}
		cl.Spec.Features.Monitoring = true
		if err := c.Update(ctx, &cl); err != nil {
			t.Fatal(err)
		}
	}
	bind := func(name, policy, project string) *authv1.PolicyBinding {
		return &authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: tlabel("default")},
			Spec: authv1.PolicyBindingSpec{TenantID: "default", PolicyName: policy, Users: []string{name}, ProjectID: project}}
	}
	hook := func(ns, name, tenant string) *notifyv1.Channel {
		return &notifyv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: tlabel(tenant)},
			Spec: notifyv1.ChannelSpec{TenantID: tenant, Type: "webhook", Webhook: &notifyv1.WebhookChannel{URL: "https://hook.example"}}}
	}
	tpl := func(ns, name, tenant, typ string) *notifyv1.Template {
		return &notifyv1.Template{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: tlabel(tenant)},
			Spec: notifyv1.TemplateSpec{TenantID: tenant, ChannelType: typ, Body: "{{.Status}}"}}
	}
	rcv := func(ns, name, tenant string) *notifyv1.Receiver {
		return &notifyv1.Receiver{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: tlabel(tenant)},
			Spec: notifyv1.ReceiverSpec{TenantID: tenant, Email: name + "@example.com"}}
	}
	grp := func(ns, name, tenant, member string) *notifyv1.ReceiverGroup {
		return &notifyv1.ReceiverGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: tlabel(tenant)},
			Spec: notifyv1.ReceiverGroupSpec{TenantID: tenant, Receivers: []notifyv1.ObjectRef{{Name: member}}}}
	}
	smtp := hook(prjA, "smtp", "default")
	smtp.Spec.Type, smtp.Spec.Webhook, smtp.Spec.Email = "email", nil, &notifyv1.EmailChannel{SMTPHost: "smtp.example", SMTPPort: 587, TLS: "starttls", From: "a@example.com"}
	for _, o := range []client.Object{
		bind("pm", directory.PolicyProjectMember, prjA), bind("pv", directory.PolicyProjectViewer, prjA), bind("tu", directory.PolicyPlatformUser, ""),
		rcv(prjA, "alice", "default"), grp(prjA, "team", "default", "alice"), hook(prjA, "hook", "default"), smtp,
		tpl(prjA, "hook", "default", "webhook"), tpl(prjA, "mail", "default", "email"),
		rcv(prjB, "bob", "default"), hook(prjB, "hook", "default"), tpl(prjB, "hook", "default", "webhook"),
		hook(sysNS, "chn-shared", "default"), tpl(sysNS, "tpl-shared", "default", "webhook"), rcv(sysNS, "rcv-shared", "default"),
		grp(sysNS, "rcvg-shared", "default", "rcv-shared"),
		hook(sysNS, "chn-theirs", "other"), tpl(sysNS, "tpl-theirs", "other", "webhook"),
		hook(prjO, "hook", "other"), tpl(prjO, "hook", "other", "webhook"),
	} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return m, c
}

func nref(ns, name string) monitorv1.ObjectRef { return monitorv1.ObjectRef{Namespace: ns, Name: name} }

func via(channel, template monitorv1.ObjectRef) monitorv1.NotifyMethod {
	return monitorv1.NotifyMethod{Channel: channel, Template: template}
}

var hookPair = via(nref("", "hook"), nref("", "hook"))

// policy is an alarm policy as it would be stored: a project's (namespace
// set; its project filled in) or a cluster's (in the platform's namespace).
func policy(ns, cluster, namespace string, ot monitorv1.ObjectType, metric string, how ...monitorv1.NotifyMethod) *monitorv1.AlarmPolicy {
	ap := &monitorv1.AlarmPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ap", Labels: tlabel("default")},
		Spec: monitorv1.AlarmPolicySpec{TenantID: "default", DisplayName: "restarts", ClusterName: cluster, Namespace: namespace, ObjectType: ot,
			PeriodMinutes: 1, Conditions: []monitorv1.AlarmCondition{{Metric: metric, Operator: ">", Threshold: "3", Periods: 2}}, Notifications: how}}
	if namespace != "" && ns != sysNS {
		ap.Spec.ProjectName = ns
	}
	return ap
}

func podPolicy(ns, cluster, namespace string, how ...monitorv1.NotifyMethod) *monitorv1.AlarmPolicy {
	return policy(ns, cluster, namespace, monitorv1.ObjectPod, "k8s_pod_restart_total", how...)
}

func edit[T any](o *T, f func(*T)) *T {
	f(o)
	return o
}

func mattr(m *Module, verb, kind, ns, name string) attributes.Attributes {
	a := attributes.Attributes{Verb: verb, APIGroup: Group, Kind: kind, Namespace: ns, Name: name,
		Action:   verb + map[string]string{"alarmpolicy": "Alarmpolicy", "alarmsilence": "Alarmsilence"}[kind],
		Resource: "namespace:" + ns + "/" + kind + ":" + name}
	for _, res := range m.Resources() {
		if res.Kind == kind {
			a.Project = res.Project(a)
		}
	}
	return a
}

func validateRequest(t *testing.T, m *Module, c client.Client, p *directory.Principal, verb string, obj client.Object) *apigroup.Request {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	u := apigrouptest.Unstructured(t, obj)
	u.SetGroupVersionKind(gvk)
	r := &apigroup.Request{Principal: p, Attributes: mattr(m, verb, strings.ToLower(gvk.Kind), u.GetNamespace(), u.GetName()), Object: u}
	if verb == "update" {
		old := &unstructured.Unstructured{}
		old.SetGroupVersionKind(gvk)
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), old); err != nil {
			t.Fatalf("an update replaces a stored %s: %v", client.ObjectKeyFromObject(obj), err)
		}
		r.Old = old
	}
	return r
}

func TestAlarmResources(t *testing.T) {
	m, _ := alarmModule(t)
	res := m.Resources()
	if len(res) != 2 || res[0].Kind != "alarmpolicy" || res[1].Kind != "alarmsilence" {
		t.Fatalf("resources %+v", res)
	}
	for _, r := range res {
		if !r.TenantScoped || r.Patch != apigroup.PatchAnyone || r.Project == nil {
			t.Errorf("%+v: want tenant-scoped, patchable, governed by its project", r)
			continue
		}
		if got := r.Project(attributes.Attributes{Namespace: prjA}); got != prjA {
			t.Errorf("%s in %s: project %q", r.Kind, prjA, got)
		}
		if got := r.Project(attributes.Attributes{Namespace: sysNS}); got != "" {
			t.Errorf("%s in %s: project %q, want none", r.Kind, sysNS, got)
		}
	}
	var routes []string
	for _, rt := range m.Routes() {
		routes = append(routes, rt.Pattern)
	}
	want := []string{
		"GET /monitor/apis/monitor.tkestack.io/v1/prometheus/{rest...}",
		"POST /monitor/apis/monitor.tkestack.io/v1/prometheus/{rest...}",
		"GET /monitor/apis/monitor.tkestack.io/v1/clusters/{cluster}/status",
		"GET /monitor/apis/monitor.tkestack.io/v1/clusters/{cluster}/alarms",
		"GET /monitor/apis/monitor.tkestack.io/v1/clusters/{cluster}/alarms/export",
		"GET /monitor/apis/monitor.tkestack.io/v1/namespaces/{project}/alarms",
		"GET /monitor/apis/monitor.tkestack.io/v1/namespaces/{project}/alarms/export",
	}
	if !slices.Equal(routes, want) {
		t.Errorf("routes %v, want %v", routes, want)
	}
	if _, err := apigroup.NewRegistry(m); err != nil {
		t.Errorf("the group does not register: %v", err)
	}
}

func TestAdmitPolicy(t *testing.T) {
	m, c := alarmModule(t)
	for _, tc := range []struct {
		name, verb, ns string
		p              *directory.Principal
		obj            *monitorv1.AlarmPolicy
		wantName       string // a regexp
		wantProject    string
	}{
		{"project policy without a name", "create", prjA, pa, edit(podPolicy("", "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Name = "" }), `^alarm-[a-z0-9]{8}$`, prjA},
		{"project policy named", "create", prjA, pa, podPolicy("", "cls-a", "web", hookPair), `^ap$`, prjA},
		{"another project's name replaced", "create", prjA, pa, edit(podPolicy("", "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.ProjectName = prjB }), `^ap$`, prjA},
		{"cluster policy named", "create", sysNS, tu, podPolicy("", "cls-a", "", via(nref("", "chn-shared"), nref("", "tpl-shared"))), `^alarm-[a-z0-9]{8}$`, ""},
		{"cluster policy claiming a project", "create", sysNS, tu, edit(podPolicy("", "cls-a", "", via(nref("", "chn-shared"), nref("", "tpl-shared"))), func(ap *monitorv1.AlarmPolicy) {
			ap.Spec.ProjectName = prjA
		}), `^alarm-`, ""},
		{"an update keeps its name", "update", sysNS, tu, podPolicy(sysNS, "cls-a", "", via(nref("", "chn-shared"), nref("", "tpl-shared"))), `^ap$`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := apigrouptest.Unstructured(t, tc.obj)
			apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: tc.p, Attributes: mattr(m, tc.verb, "alarmpolicy", tc.ns, tc.obj.Name), Object: u}), 0, "")
			if !regexp.MustCompile(tc.wantName).MatchString(u.GetName()) {
				t.Errorf("named %q, want %s", u.GetName(), tc.wantName)
			}
			if got, _, _ := unstructured.NestedString(u.Object, "spec", "projectName"); got != tc.wantProject {
				t.Errorf("spec.projectName %q, want %q", got, tc.wantProject)
			}
			if tc.verb == "create" {
				// What Admit made is what Validate accepts.
				var ap monitorv1.AlarmPolicy
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ap); err != nil {
					t.Fatal(err)
				}
				ap.Namespace = tc.ns
				apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, tc.p, "create", &ap)), 0, "")
			}
		})
	}
}

func TestValidatePolicy(t *testing.T) {
	shared := via(nref(sysNS, "chn-shared"), nref(sysNS, "tpl-shared"))
	sharedLocal := via(nref("", "chn-shared"), nref("", "tpl-shared"))
	minutes := func(n int) *metav1.Duration { return &metav1.Duration{Duration: time.Duration(n) * time.Minute} }
	for _, tc := range []struct {
		name   string
		p      *directory.Principal
		obj    *monitorv1.AlarmPolicy
		stored *monitorv1.AlarmPolicy
		code   int
		msg    string
	}{
		{"project policy", pa, podPolicy(prjA, "cls-a", "web", hookPair), nil, 0, ""},
		{"project policy by a member", pm, podPolicy(prjA, "cls-a", "web", hookPair), nil, 0, ""},
		{"project policy of a workload", pm, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) {
			ap.Spec.Object.Workload = &monitorv1.WorkloadRef{Kind: "Deployment", Name: "api"}
		}), nil, 0, ""},
		{"project policy with receivers and groups", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair, via(nref("", "smtp"), nref(prjA, "mail"))), func(ap *monitorv1.AlarmPolicy) {
			ap.Spec.Receivers = []monitorv1.ObjectRef{nref("", "alice")}
			ap.Spec.ReceiverGroups = []monitorv1.ObjectRef{nref("", "team")}
			ap.Spec.RepeatInterval = minutes(5)
		}), nil, 0, ""},
		{"project policy with tenant-wide objects, by a platform user", tu, edit(podPolicy(prjA, "cls-a", "web", shared), func(ap *monitorv1.AlarmPolicy) {
			ap.Spec.Receivers = []monitorv1.ObjectRef{nref(sysNS, "rcv-shared")}
			ap.Spec.ReceiverGroups = []monitorv1.ObjectRef{nref(sysNS, "rcvg-shared")}
		}), nil, 0, ""},
		{"raw expression", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) {
			ap.Spec.Conditions, ap.Spec.Expr = nil, `sum(k8s_pod_restart_total) > 3`
		}), nil, 0, ""},
		{"cluster policy by a platform user", tu, podPolicy(sysNS, "cls-a", "", sharedLocal), nil, 0, ""},
		{"node policy by an administrator", admin, policy(sysNS, "cls-a", "", monitorv1.ObjectNode, "k8s_node_cpu_usage", shared), nil, 0, ""},
		{"cluster object policy", tu, policy(sysNS, "cls-a", "", monitorv1.ObjectCluster, "k8s_cluster_pod_total", shared), nil, 0, ""},

		// alarmrule.CheckSpec's answers.
		{"unknown metric", pa, policy(prjA, "cls-a", "web", monitorv1.ObjectPod, "k8s_pod_foo", hookPair), nil, 422,
			`spec.conditions[0].metric "k8s_pod_foo": unknown metric for Pod policies; known:`},
		{"threshold not a number", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.Conditions[0].Threshold = "abc" }), nil, 422,
			`spec.conditions[0].threshold "abc" is not a number`},
		{"period out of range", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.PeriodMinutes = 7 }), nil, 422,
			"spec.periodMinutes 7 is out of range: 1 to 5 minutes"},
		{"expression that does not parse", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) {
			ap.Spec.Conditions, ap.Spec.Expr = nil, "sum(rate(x[5m]) >"
		}), nil, 422, "spec.expr: "},
		{"no condition", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.Conditions = nil }), nil, 422,
			"give at least one condition or spec.expr"},
		{"node policy of a namespace", pa, policy(prjA, "cls-a", "web", monitorv1.ObjectNode, "k8s_node_cpu_usage", hookPair), nil, 422,
			"spec.objectType Node is for cluster policies (leave spec.namespace empty)"},
		{"no display name", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.DisplayName = "" }), nil, 422, "spec.displayName"},
		{"display name too long", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.DisplayName = strings.Repeat("x", 61) }), nil, 422,
			"spec.displayName"},

		// The cluster.
		{"another tenant's cluster", admin, podPolicy(prjA, "cls-o", "web", hookPair), nil, 422, `spec.clusterName: no cluster "cls-o"`},
		{"another tenant's cluster, by a tenant user", pa, podPolicy(prjA, "cls-o", "web", hookPair), nil, 422, `spec.clusterName: no cluster "cls-o"`},
		{"no such cluster", pa, podPolicy(prjA, "cls-x", "web", hookPair), nil, 422, `spec.clusterName: no cluster "cls-x"`},
		{"monitoring off", pb, podPolicy(prjB, "cls-b", "web", hookPair), nil, 422,
			"spec.clusterName: cluster cls-b has monitoring off (spec.features.monitoring)"},
		{"monitoring off, an update", pb, edit(podPolicy(prjB, "cls-b", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.DisplayName = "x" }),
			podPolicy(prjB, "cls-b", "web", hookPair), 0, ""},

		// The scope.
		{"another project's namespace", pa, podPolicy(prjA, "cls-a", "shop", hookPair), nil, 422, "spec.namespace: shop is not a namespace of project prj-aaaaaaaa in cluster cls-a"},
		{"another project's namespace, by an administrator", admin, podPolicy(prjA, "cls-a", "shop", hookPair), nil, 422,
			"spec.namespace: shop is not a namespace of project prj-aaaaaaaa"},
		{"a namespace of no project", pa, podPolicy(prjA, "cls-a", "kube-system", hookPair), nil, 422, "spec.namespace: kube-system is not a namespace of project"},
		{"the project's namespace in another cluster", pb, podPolicy(prjB, "cls-a", "web", hookPair), nil, 422,
			"spec.namespace: web is not a namespace of project prj-bbbbbbbb in cluster cls-a"},
		{"project named wrong", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.ProjectName = prjB }), nil, 422,
			`spec.projectName: the policy lives in project prj-aaaaaaaa's namespace, not "prj-bbbbbbbb"`},
		{"a reader of the project", pv, podPolicy(prjA, "cls-a", "web", hookPair), nil, 0, ""},
		{"one holding nothing", nobody, podPolicy(prjA, "cls-a", "web", hookPair), nil, 403,
			"spec.namespace: nobody may not list the pods of namespace web, so may not alarm on them"},
		{"another project's member", pb, podPolicy(prjA, "cls-a", "web", hookPair), nil, 403,
			"spec.namespace: pb may not list the pods of namespace web, so may not alarm on them"},
		{"cluster policy by a project admin", pa, podPolicy(sysNS, "cls-a", "", sharedLocal), nil, 403,
			"spec.namespace: pa may not list every pod of cluster cls-a, so may not make a cluster policy"},
		{"cluster policy by a member", pm, podPolicy(sysNS, "cls-a", "", sharedLocal), nil, 403, "pm may not list every pod of cluster cls-a"},
		{"cluster policy in a project", pa, podPolicy(prjA, "cls-a", "", hookPair), nil, 422,
			"a cluster policy (no spec.namespace) lives in namespace kstack-system, not prj-aaaaaaaa"},
		{"cluster policy in a project, by an administrator", admin, podPolicy(prjA, "cls-a", "", hookPair), nil, 422, "lives in namespace kstack-system"},
		{"cluster policy with a project", tu, edit(podPolicy(sysNS, "cls-a", "", sharedLocal), func(ap *monitorv1.AlarmPolicy) { ap.Spec.ProjectName = prjA }), nil, 422,
			"spec.projectName: a cluster policy belongs to no project"},
		{"a namespace's policy in the platform's namespace", tu, edit(podPolicy(sysNS, "cls-a", "web", sharedLocal), func(ap *monitorv1.AlarmPolicy) { ap.Spec.ProjectName = sysNS }), nil, 422,
			"a policy of namespace web lives in its project's namespace, not kstack-system"},
		{"cluster policy by the cluster's administrator, with tenant-wide objects they may not read", ca, podPolicy(sysNS, "cls-a", "", sharedLocal), nil, 403,
			"spec.notifications[0].channel: ca may not use channel chn-shared (it needs getChannel)"},

		// References.
		{"no notifications", pa, podPolicy(prjA, "cls-a", "web"), nil, 422, "spec.notifications: give at least one channel"},
		{"no such channel", pa, podPolicy(prjA, "cls-a", "web", via(nref("", "nope"), nref("", "hook"))), nil, 422, `spec.notifications[0].channel: no channel "nope"`},
		{"no such template", pa, podPolicy(prjA, "cls-a", "web", hookPair, via(nref("", "hook"), nref("", "nope"))), nil, 422, `spec.notifications[1].template: no template "nope"`},
		{"template of another type", pa, podPolicy(prjA, "cls-a", "web", via(nref("", "hook"), nref("", "mail"))), nil, 422,
			"spec.notifications[0].template: template mail is for email, channel hook is webhook"},
		{"another project's channel", pa, podPolicy(prjA, "cls-a", "web", via(nref(prjB, "hook"), nref("", "hook"))), nil, 422,
			"spec.notifications[0].channel: a reference names a channel of namespace prj-aaaaaaaa (this object's) or kstack-system (the tenant's), not of prj-bbbbbbbb"},
		{"another project's template, by an administrator", admin, podPolicy(prjA, "cls-a", "web", via(nref("", "hook"), nref(prjB, "hook"))), nil, 422,
			"spec.notifications[0].template: a reference names a template of namespace prj-aaaaaaaa"},
		{"another tenant's channel", admin, podPolicy(prjA, "cls-a", "web", via(nref(sysNS, "chn-theirs"), nref("", "hook"))), nil, 422,
			`spec.notifications[0].channel: no channel "chn-theirs"`},
		{"another tenant's template in a cluster policy", tu, podPolicy(sysNS, "cls-a", "", via(nref("", "chn-shared"), nref("", "tpl-theirs"))), nil, 422,
			`spec.notifications[0].template: no template "tpl-theirs"`},
		{"the other tenant's own", oa, edit(podPolicy(prjO, "cls-o", "web", hookPair), func(ap *monitorv1.AlarmPolicy) {
			ap.Spec.TenantID, ap.Labels = "other", tlabel("other")
		}), nil, 0, ""},
		{"the other tenant's view of ours", oa, edit(podPolicy(prjO, "cls-o", "web", via(nref(sysNS, "chn-shared"), nref("", "hook"))), func(ap *monitorv1.AlarmPolicy) {
			ap.Spec.TenantID, ap.Labels = "other", tlabel("other")
		}), nil, 422,
			`spec.notifications[0].channel: no channel "chn-shared"`},
		{"a tenant-wide channel, by a project admin", pa, podPolicy(prjA, "cls-a", "web", shared), nil, 403,
			"spec.notifications[0].channel: pa may not use channel chn-shared (it needs getChannel)"},
		{"no such receiver", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.Receivers = []monitorv1.ObjectRef{nref("", "zed")} }), nil, 422,
			`spec.receivers[0]: no receiver "zed"`},
		{"another project's receiver", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.Receivers = []monitorv1.ObjectRef{nref(prjB, "bob")} }), nil, 422,
			"spec.receivers[0]: a reference names a receiver of namespace prj-aaaaaaaa"},
		{"a tenant-wide receiver, by a member", pm, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) {
			ap.Spec.Receivers = []monitorv1.ObjectRef{nref("", "alice"), nref(sysNS, "rcv-shared")}
		}), nil, 403, "spec.receivers[1]: pm may not use receiver rcv-shared (it needs getReceiver)"},
		{"a group, by one who may not read it", pb, edit(podPolicy(prjB, "cls-a", "shop", via(nref("", "hook"), nref("", "hook"))), func(ap *monitorv1.AlarmPolicy) {
			ap.Spec.ReceiverGroups = []monitorv1.ObjectRef{nref(sysNS, "rcvg-shared")}
		}), nil, 403, "spec.receiverGroups[0]: pb may not use receivergroup rcvg-shared (it needs getReceivergroup)"},
		{"no such group", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.ReceiverGroups = []monitorv1.ObjectRef{nref("", "zed")} }), nil, 422,
			`spec.receiverGroups[0]: no receivergroup "zed"`},

		// Repeat interval.
		{"repeat interval under the group interval", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.RepeatInterval = minutes(1) }), nil, 422,
			"spec.repeatInterval 1m0s is shorter than the group interval 5m0s"},
		{"repeat interval negative", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.RepeatInterval = minutes(-1) }), nil, 422,
			"spec.repeatInterval -1m0s: give a positive duration"},

		// The scope is fixed once made.
		{"cluster changed", admin, podPolicy(prjA, "cls-a", "web", hookPair), podPolicy(prjA, "cls-b", "web", hookPair), 403,
			"spec.clusterName of an alarm policy cannot change"},
		{"namespace changed", pa, podPolicy(prjA, "cls-a", "web", hookPair), podPolicy(prjA, "cls-a", "other", hookPair), 403, "spec.namespace of an alarm policy cannot change"},
		{"object type changed", tu, policy(sysNS, "cls-a", "", monitorv1.ObjectNode, "k8s_node_cpu_usage", sharedLocal), podPolicy(sysNS, "cls-a", "", sharedLocal), 403,
			"spec.objectType of an alarm policy cannot change"},
		{"an update keeping the scope", pa, edit(podPolicy(prjA, "cls-a", "web", hookPair), func(ap *monitorv1.AlarmPolicy) { ap.Spec.Conditions[0].Threshold = "10" }),
			podPolicy(prjA, "cls-a", "web", hookPair), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := alarmModule(t)
			verb := "create"
			if tc.stored != nil {
				if err := c.Create(context.Background(), tc.stored); err != nil {
					t.Fatal(err)
				}
				verb = "update"
			}
			r := validateRequest(t, m, c, tc.p, verb, tc.obj)
			before := r.Object.DeepCopy()
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), r), tc.code, tc.msg)
			if !equality.Semantic.DeepEqual(before.Object, r.Object.Object) {
				t.Errorf("Validate changed the object")
			}
		})
	}
}

func silence(ns, createdBy string, start *time.Time, end time.Time, matchers ...monitorv1.Matcher) *monitorv1.AlarmSilence {
	s := &monitorv1.AlarmSilence{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s1", Labels: tlabel("default")},
		Spec: monitorv1.AlarmSilenceSpec{TenantID: "default", Matchers: matchers, EndsAt: metav1.NewTime(end), CreatedBy: createdBy}}
	if start != nil {
		t := metav1.NewTime(*start)
		s.Spec.StartsAt = &t
	}
	return s
}

func TestAdmitSilence(t *testing.T) {
	m, c := alarmModule(t)
	now := time.Now().Truncate(time.Second)
	mt := monitorv1.Matcher{Name: "alarm_policy", Value: prjA + "/ap"}
	ctx := context.Background()

	// A create: a generated name in the platform's namespace, the author
	// from the caller whatever the body says, the start now.
	for _, ns := range []string{prjA, sysNS} {
		s := silence("", "mallory", nil, now.Add(time.Hour), mt)
		u := apigrouptest.Unstructured(t, s)
		apigrouptest.CheckRefusal(t, m.Admit(ctx, &apigroup.Request{Principal: pa, Attributes: mattr(m, "create", "alarmsilence", ns, "s1"), Object: u}), 0, "")
		var got monitorv1.AlarmSilence
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &got); err != nil {
			t.Fatal(err)
		}
		if got.Spec.CreatedBy != "pa" || got.Spec.StartsAt == nil || got.Spec.StartsAt.Time.Sub(now) > 2*time.Second || got.Spec.StartsAt.Time.Before(now) {
			t.Errorf("in %s: createdBy %q, startsAt %v", ns, got.Spec.CreatedBy, got.Spec.StartsAt)
		}
		if wantGen := ns == sysNS; wantGen != strings.HasPrefix(got.Name, "silence-") {
			t.Errorf("in %s: named %q", ns, got.Name)
		}
		got.Namespace = ns
		apigrouptest.CheckRefusal(t, m.Validate(ctx, validateRequest(t, m, c, pa, "create", &got)), 0, "")
	}
	// A given start is kept.
	start := now.Add(time.Hour)
	u := apigrouptest.Unstructured(t, silence("", "", &start, now.Add(2*time.Hour), mt))
	apigrouptest.CheckRefusal(t, m.Admit(ctx, &apigroup.Request{Principal: pa, Attributes: mattr(m, "create", "alarmsilence", prjA, "s1"), Object: u}), 0, "")
	if got, _, _ := unstructured.NestedString(u.Object, "spec", "startsAt"); got != start.UTC().Format(time.RFC3339) {
		t.Errorf("startsAt %q, want %s", got, start.UTC().Format(time.RFC3339))
	}

	// An update by someone else keeps the author and the start.
	stored := silence(prjA, "pa", &start, now.Add(2*time.Hour), mt)
	if err := c.Create(ctx, stored); err != nil {
		t.Fatal(err)
	}
	u = apigrouptest.Unstructured(t, silence(prjA, "pm", nil, now, mt))
	apigrouptest.CheckRefusal(t, m.Admit(ctx, &apigroup.Request{Principal: pm, Attributes: mattr(m, "update", "alarmsilence", prjA, "s1"), Object: u}), 0, "")
	if got, _, _ := unstructured.NestedString(u.Object, "spec", "createdBy"); got != "pa" {
		t.Errorf("an update by pm made createdBy %q, want pa's", got)
	}
	if got, _, _ := unstructured.NestedString(u.Object, "spec", "startsAt"); got != start.UTC().Format(time.RFC3339) {
		t.Errorf("an update without a start made it %q", got)
	}
	// Patches and deletes have no body.
	apigrouptest.CheckRefusal(t, m.Admit(ctx, &apigroup.Request{Principal: pm, Attributes: mattr(m, "patch", "alarmsilence", prjA, "s1")}), 0, "")
}

func TestValidateSilence(t *testing.T) {
	now := time.Now()
	hour, ago := now.Add(time.Hour), now.Add(-time.Hour)
	mt := func(name, typ, value string) monitorv1.Matcher {
		return monitorv1.Matcher{Name: name, Type: typ, Value: value}
	}
	pol := mt("alarm_policy", "", prjA+"/ap")
	for _, tc := range []struct {
		name   string
		p      *directory.Principal
		obj    *monitorv1.AlarmSilence
		stored *monitorv1.AlarmSilence
		code   int
		msg    string
	}{
		{"one matcher", pa, silence(prjA, "pa", &now, hour, pol), nil, 0, ""},
		{"every type", pa, silence(prjA, "pa", &now, hour, pol, mt("pod", "=~", "api-.*"), mt("node", "!=", "n1"), mt("alarm_metric", "!~", "k8s_pod_(cpu|mem).*")), nil, 0, ""},
		{"30 days", pa, silence(prjA, "pa", &now, now.Add(MaxSilence), pol), nil, 0, ""},
		{"starting later", pa, silence(prjA, "pa", &hour, hour.Add(time.Hour), pol), nil, 0, ""},
		{"tenant-wide", tu, silence(sysNS, "tu", &now, hour, pol), nil, 0, ""},
		{"another tenant's project", oa, edit(silence(prjA, "oa", &now, hour, pol), func(s *monitorv1.AlarmSilence) { s.Spec.TenantID = "other" }), nil, 422,
			`metadata.namespace: no project "prj-aaaaaaaa"`},
		{"a namespace of no project", admin, silence("default", "admin", &now, hour, pol), nil, 422, `metadata.namespace: no project "default"`},
		{"no matcher", pa, silence(prjA, "pa", &now, hour), nil, 422, "spec.matchers: give at least one matcher"},
		{"unknown type", pa, silence(prjA, "pa", &now, hour, mt("pod", "==", "x")), nil, 422, `spec.matchers[0].type "==": use =, !=, =~ or !~`},
		{"bad label name", pa, silence(prjA, "pa", &now, hour, pol, mt("pod-name", "=", "x")), nil, 422, `spec.matchers[1].name "pod-name" is not a label name`},
		{"empty label name", pa, silence(prjA, "pa", &now, hour, mt("", "=", "x")), nil, 422, `spec.matchers[0].name ""`},
		{"regex that does not compile", pa, silence(prjA, "pa", &now, hour, mt("pod", "=~", "api-(")), nil, 422, `spec.matchers[0].value "api-(": error parsing regexp`},
		{"negative regex that does not compile", pa, silence(prjA, "pa", &now, hour, mt("pod", "!~", "[z-a]")), nil, 422, `spec.matchers[0].value "[z-a]"`},
		{"no start", pa, silence(prjA, "pa", nil, hour, pol), nil, 422, "spec.startsAt"},
		{"no end", pa, edit(silence(prjA, "pa", &now, hour, pol), func(s *monitorv1.AlarmSilence) { s.Spec.EndsAt = metav1.Time{} }), nil, 422, "spec.endsAt: give when the silence ends"},
		{"end before start", pa, silence(prjA, "pa", &hour, now.Add(30*time.Minute), pol), nil, 422, "is not after spec.startsAt"},
		{"end at start", pa, silence(prjA, "pa", &hour, hour, pol), nil, 422, "is not after spec.startsAt"},
		{"end in the past", pa, silence(prjA, "pa", &ago, now.Add(-time.Minute), pol), nil, 422, "is in the past"},
		{"over 30 days", pa, silence(prjA, "pa", &now, now.Add(31*24*time.Hour), pol), nil, 422, "is more than 30 days ahead"},
		{"comment too long", pa, edit(silence(prjA, "pa", &now, hour, pol), func(s *monitorv1.AlarmSilence) { s.Spec.Comment = strings.Repeat("x", 1025) }), nil, 422, "spec.comment"},
		{"someone else's name", pa, silence(prjA, "pm", &now, hour, pol), nil, 422, `spec.createdBy "pm": the platform sets it`},
		{"no author", pa, silence(prjA, "", &now, hour, pol), nil, 422, `spec.createdBy ""`},
		{"expired now", pm, silence(prjA, "pa", &hour, now, pol), silence(prjA, "pa", &hour, hour.Add(time.Hour), pol), 0, ""},
		{"expired now, started", pm, silence(prjA, "pa", &ago, now, pol), silence(prjA, "pa", &ago, hour, pol), 0, ""},
		{"extended", pm, silence(prjA, "pa", &now, now.Add(2*time.Hour), pol), silence(prjA, "pa", &now, hour, pol), 0, ""},
		{"author changed", pm, silence(prjA, "pm", &now, hour, pol), silence(prjA, "pa", &now, hour, pol), 403, "spec.createdBy cannot change"},
		{"extended past 30 days", pm, silence(prjA, "pa", &now, now.Add(40*24*time.Hour), pol), silence(prjA, "pa", &now, hour, pol), 422, "more than 30 days ahead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := alarmModule(t)
			verb := "create"
			if tc.stored != nil {
				if err := c.Create(context.Background(), tc.stored); err != nil {
					t.Fatal(err)
				}
				verb = "update"
			}
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, tc.p, verb, tc.obj)), tc.code, tc.msg)
		})
	}
}

// alarms is a record store holding alarms of both tenants.
func alarms(t *testing.T) recordstore.Store {
	t.Helper()
	s, err := recordstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "r.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	rec := func(uid, tenant, cluster, ns, project, policy, verb string) recordstore.Record {
		data, _ := json.Marshal(map[string]any{"uid": uid, "status": verb})
		return recordstore.Record{Kind: AlarmRecordKind, UID: uid, Time: time.Now(), Tenant: tenant, Cluster: cluster, Namespace: ns, Project: project,
			Resource: "alarmpolicy", Name: policy, Verb: verb, Data: data}
	}
	if err := s.Append(context.Background(), []recordstore.Record{
		rec("a-web", "default", "cls-a", "web", prjA, prjA+"/ap", "firing"),
		rec("a-web-2", "default", "cls-a", "web", prjA, prjA+"/ap", "resolved"),
		rec("a-shop", "default", "cls-a", "shop", prjB, prjB+"/ap", "firing"),
		rec("b-web", "default", "cls-b", "web", prjB, prjB+"/ap2", "firing"),
		rec("a-cluster", "default", "cls-a", "", "", sysNS+"/alarm-x", "firing"),
		rec("o-web", "other", "cls-o", "web", prjO, prjO+"/ap", "firing"),
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAlarmRecords(t *testing.T) {
	m, _ := alarmModule(t)
	m.Records = alarms(t)
	reg, err := apigroup.NewRegistry(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		p    *directory.Principal
		code int
		want []string
		msg  string
	}{
		{"clusters/cls-a/alarms", admin, 200, []string{"a-cluster", "a-shop", "a-web", "a-web-2"}, ""},
		{"clusters/cls-a/alarms", ca, 200, []string{"a-cluster", "a-shop", "a-web", "a-web-2"}, ""},
		{"clusters/cls-a/alarms", pa, 200, []string{"a-web", "a-web-2"}, ""},
		{"clusters/cls-a/alarms", pb, 200, []string{"a-shop"}, ""},
		{"clusters/cls-a/alarms?status=resolved", pm, 200, []string{"a-web-2"}, ""},
		{"clusters/cls-a/alarms?policy=" + prjB + "/ap", admin, 200, []string{"a-shop"}, ""},
		{"clusters/cls-a/alarms?namespace=shop", pa, 403, nil, "pa may not list the alarms of namespace shop of cluster cls-a"},
		{"clusters/cls-b/alarms", pa, 403, nil, "pa may not list the alarms of any namespace of cluster cls-b"},
		{"clusters/cls-o/alarms", pa, 404, nil, `no cluster \"cls-o\"`},
		{"clusters/cls-o/alarms", oa, 200, []string{"o-web"}, ""},
		{"clusters/cls-a/alarms?receiver=x", pa, 400, nil, `unknown parameter \"receiver\"`},
		{"namespaces/" + prjB + "/alarms", pb, 200, []string{"a-shop", "b-web"}, ""},
		{"namespaces/" + prjA + "/alarms", pv, 200, []string{"a-web", "a-web-2"}, ""},
		{"namespaces/" + prjA + "/alarms", pb, 403, nil, "pb may not read project prj-aaaaaaaa, so may not list its alarms"},
		{"namespaces/" + prjO + "/alarms", pa, 404, nil, `no project \"prj-oooooooo\"`},
	} {
		r := httptest.NewRequest(http.MethodGet, groupPath+tc.path, nil)
		w := httptest.NewRecorder()
		if !reg.ServeRoute(w, r, tc.p) {
			t.Fatalf("no route for %s", tc.path)
		}
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.msg) {
			t.Errorf("%s by %s: %d %s, want %d %q", tc.path, tc.p.Username, w.Code, w.Body.String(), tc.code, tc.msg)
			continue
		}
		if tc.code != 200 {
			continue
		}
		var list notifyapi.RecordList
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || list.Kind != "AlarmList" || list.APIVersion != "monitor.tkestack.io/v1" {
			t.Errorf("%s: %v %s", tc.path, err, w.Body.String())
		}
		var got []string
		for _, it := range list.Items {
			got = append(got, it.UID)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s by %s: %v, want %v", tc.path, tc.p.Username, got, tc.want)
		}
	}
	r := httptest.NewRequest(http.MethodGet, groupPath+"namespaces/"+prjA+"/alarms/export", nil)
	w := httptest.NewRecorder()
	reg.ServeRoute(w, r, pa)
	if w.Code != 200 || strings.Count(w.Body.String(), "\n") != 2 || !strings.Contains(w.Header().Get("Content-Disposition"), "alarms-"+prjA+".jsonl") {
		t.Errorf("export: %d %v %q", w.Code, w.Header(), w.Body.String())
	}
	m.Records = nil
	reg, _ = apigroup.NewRegistry(m)
	w = httptest.NewRecorder()
	reg.ServeRoute(w, httptest.NewRequest(http.MethodGet, groupPath+"clusters/cls-a/alarms", nil), admin)
	if w.Code != 503 {
		t.Errorf("without a record store: %d %s", w.Code, w.Body.String())
	}
}
