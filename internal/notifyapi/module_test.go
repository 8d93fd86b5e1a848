package notifyapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/apigroup/apigrouptest"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/business/admission"
	"github.com/kstack/kstack/internal/businessapi"
	"github.com/kstack/kstack/internal/dialcheck"
	"github.com/kstack/kstack/internal/notifychannel"
	"github.com/kstack/kstack/internal/platformscheme"
)

const (
	sysNS = "kstack-system"
	prjA  = "prj-aaaaaaaa" // cls-a: namespace web; pa administers it, pm is a member, pv reads it
	prjB  = "prj-bbbbbbbb" // cls-a: namespace db; pb administers it
	prjO  = "prj-oooooooo" // tenant other, cls-o: namespace web; oa administers it
)

var (
	admin  = &directory.Principal{Username: "admin", Tenant: "default", SuperAdmin: true}
	pa     = &directory.Principal{Username: "pa", Tenant: "default"}
	pm     = &directory.Principal{Username: "pm", Tenant: "default"}
	pv     = &directory.Principal{Username: "pv", Tenant: "default"}
	pb     = &directory.Principal{Username: "pb", Tenant: "default"}
	tu     = &directory.Principal{Username: "tu", Tenant: "default"} // platform user: every cluster, project and namespace of the tenant
	oa     = &directory.Principal{Username: "oa", Tenant: "other"}
	nobody = &directory.Principal{Username: "nobody", Tenant: "default"}
)

func label(tenant string) map[string]string { return map[string]string{authv1.LabelTenant: tenant} }

// resolve is the test's DNS.
func resolve(_ context.Context, host string) ([]netip.Addr, error) {
	switch host {
	case "smtp.example", "hook.example", "sms.example":
		return []netip.Addr{netip.MustParseAddr("198.18.0.10")}, nil
	case "sneaky.example":
		return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
	}
	return nil, errors.New("no such host")
}

var (
	loopback  = netip.MustParsePrefix("127.0.0.0/8")
	linkLocal = netip.MustParsePrefix("169.254.0.0/16")
)

func receiver(ns, name, tenant string, spec notifyv1.ReceiverSpec) *notifyv1.Receiver {
	spec.TenantID = tenant
	return &notifyv1.Receiver{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: label(tenant)}, Spec: spec}
}

func template(ns, name, tenant, channelType string) *notifyv1.Template {
	spec := notifyv1.TemplateSpec{TenantID: tenant, ChannelType: channelType, Body: "{{.Status}} {{.Policy.DisplayName}}"}
	switch channelType {
	case notifyv1.ChannelEmail:
		spec.Subject = "[{{.Status}}] {{.Policy.DisplayName}}"
	case notifyv1.ChannelWebhook:
		spec.Body = `{"status": {{json .Status}}}`
	}
	return &notifyv1.Template{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: label(tenant)}, Spec: spec}
}

func channel(ns, name, tenant string, spec notifyv1.ChannelSpec) *notifyv1.Channel {
	spec.TenantID = tenant
	return &notifyv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: label(tenant)}, Spec: spec}
}

func emailSpec(password string) notifyv1.ChannelSpec {
	return notifyv1.ChannelSpec{Type: "email", Email: &notifyv1.EmailChannel{SMTPHost: "smtp.example", SMTPPort: 587, TLS: "starttls",
		From: "Alarms <alarms@example.com>", Username: "alarms", Password: password}}
}

func webhookSpec(url string, headers ...notifyv1.Header) notifyv1.ChannelSpec {
	return notifyv1.ChannelSpec{Type: "webhook", Webhook: &notifyv1.WebhookChannel{URL: url, Headers: headers}}
}

func smsSpec(provider, key string) notifyv1.ChannelSpec {
	return notifyv1.ChannelSpec{Type: "sms", SMS: &notifyv1.ProviderChannel{Provider: provider, Key: key, Params: map[string]string{"sdkAppID": "1400000000"}}}
}

func wechatSpec(provider, key string) notifyv1.ChannelSpec {
	return notifyv1.ChannelSpec{Type: "wechat", WeChat: &notifyv1.ProviderChannel{Provider: provider, Key: key, Params: map[string]string{"appID": "wx1"}}}
}

// module is the group over a fake client with the predefined policies,
// clusters cls-a (tenant default) and cls-o (tenant other), the projects
// and callers above, and notification objects: in prjA receiver alice,
// templates mail and hook, channels smtp and hook; in prjB receiver bob;
// in the platform's namespace the default tenant's receiver rcv-shared,
// group rcvg-shared and template tpl-shared, and the other tenant's
// receiver rcv-theirs.
func module(t *testing.T, allow ...netip.Prefix) (*Module, client.Client) {
	t.Helper()
	cluster := func(name, tenant string) *platformv1.Cluster {
		return &platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: label(tenant)},
			Spec: platformv1.ClusterSpec{TenantID: tenant, Type: platformv1.ClusterImported}}
	}
	project := func(name, tenant, cluster string) *businessv1.Project {
		return &businessv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: label(tenant)},
			Spec: businessv1.ProjectSpec{TenantID: tenant, Clusters: []businessv1.ClusterQuota{{Name: cluster}}}}
	}
	ns := func(project, tenant, cluster, name string) *businessv1.Namespace {
		return &businessv1.Namespace{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: businessv1.ObjectName(cluster, name),
			Labels: map[string]string{authv1.LabelTenant: tenant, admission.LabelCluster: cluster, admission.LabelNamespace: name}},
			Spec: businessv1.NamespaceSpec{TenantID: tenant, ProjectName: project, ClusterName: cluster, Namespace: name}}
	}
	bind := func(name, tenant, policy, user, project string) *authv1.PolicyBinding {
		return &authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: label(tenant)},
			Spec: authv1.PolicyBindingSpec{TenantID: tenant, PolicyName: policy, Users: []string{user}, ProjectID: project}}
	}
	objs := []client.Object{
		cluster("cls-a", "default"), cluster("cls-o", "other"),
		project(prjA, "default", "cls-a"), project(prjB, "default", "cls-a"), project(prjO, "other", "cls-o"),
		ns(prjA, "default", "cls-a", "web"), ns(prjB, "default", "cls-a", "db"), ns(prjO, "other", "cls-o", "web"),
		bind("pa", "default", directory.PolicyProjectAdmin, "pa", prjA),
		bind("pm", "default", directory.PolicyProjectMember, "pm", prjA),
		bind("pv", "default", directory.PolicyProjectViewer, "pv", prjA),
		bind("pb", "default", directory.PolicyProjectAdmin, "pb", prjB),
		bind("tu", "default", directory.PolicyPlatformUser, "tu", ""),
		bind("oa", "other", directory.PolicyProjectAdmin, "oa", prjO),

		receiver(prjA, "alice", "default", notifyv1.ReceiverSpec{Email: "alice@example.com", Mobile: "+8613800000000"}),
		receiver(prjA, "hookonly", "default", notifyv1.ReceiverSpec{WeChatOpenID: "o-abc"}),
		receiver(prjB, "bob", "default", notifyv1.ReceiverSpec{Email: "bob@example.com"}),
		receiver(prjO, "olga", "other", notifyv1.ReceiverSpec{Email: "olga@example.com"}),
		receiver(sysNS, "rcv-shared", "default", notifyv1.ReceiverSpec{Email: "ops@example.com"}),
		receiver(sysNS, "rcv-theirs", "other", notifyv1.ReceiverSpec{Email: "theirs@example.com"}),
		template(prjA, "mail", "default", "email"), template(prjA, "hook", "default", "webhook"),
		template(sysNS, "tpl-shared", "default", "email"), template(sysNS, "tpl-theirs", "other", "email"),
		channel(prjA, "smtp", "default", emailSpec("")), channel(prjA, "hook", "default", webhookSpec("https://hook.example/alarms")),
		channel(prjO, "hook", "other", webhookSpec("https://hook.example/alarms")),
	}
	b := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(objs...)
	for _, ix := range admission.Indexers {
		b = b.WithIndex(ix.Object, ix.Field, ix.Func)
	}
	c := b.Build()
	if err := directory.EnsurePredefined(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	dec := &decision.Decider{Dir: &directory.Directory{Client: c}}
	dec.ProjectOf = (&businessapi.Module{Env: apigroup.Env{Client: c, Reader: c}}).ProjectOf
	env := apigroup.Env{Client: c, Reader: c, Decider: dec, SystemNamespace: sysNS}
	return &Module{Env: env, Dial: &dialcheck.Policy{Allow: allow, Resolve: resolve}}, c
}

// attr are the attributes of a request on kind in ns, as the gateway
// makes them (the project from the kind's Resource).
func attr(m *Module, verb, kind, ns, name string) attributes.Attributes {
	a := attributes.Attributes{Verb: verb, APIGroup: Group, Kind: kind, Namespace: ns, Name: name,
		Action: verb + kinds[kind].kind, Resource: "namespace:" + ns + "/" + kind + ":" + name}
	for _, res := range m.Resources() {
		if res.Kind == kind {
			a.Project = res.Project(a)
		}
	}
	return a
}

// validateRequest is the admission webhook's request for a create or an
// update (the stored object as Old) of obj.
func validateRequest(t *testing.T, m *Module, c client.Client, p *directory.Principal, verb string, obj client.Object) *apigroup.Request {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	u := apigrouptest.Unstructured(t, obj)
	u.SetGroupVersionKind(gvk)
	r := &apigroup.Request{Principal: p, Attributes: attr(m, verb, strings.ToLower(gvk.Kind), u.GetNamespace(), u.GetName()), Object: u}
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

// admit runs Admit on obj as a create or update in ns and returns the body.
func admit(t *testing.T, m *Module, p *directory.Principal, verb, ns string, obj client.Object) (*unstructured.Unstructured, error) {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, m.Client.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	u := apigrouptest.Unstructured(t, obj)
	u.SetGroupVersionKind(gvk)
	err = m.Admit(context.Background(), &apigroup.Request{Principal: p, Attributes: attr(m, verb, strings.ToLower(gvk.Kind), ns, obj.GetName()), Object: u})
	return u, err
}

func asChannel(t *testing.T, u *unstructured.Unstructured, ns string) *notifyv1.Channel {
	t.Helper()
	var ch notifyv1.Channel
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ch); err != nil {
		t.Fatal(err)
	}
	if ch.Namespace == "" {
		ch.Namespace = ns
	}
	return &ch
}

// store creates or replaces ch as the API server would after Admit.
func store(t *testing.T, c client.Client, ch *notifyv1.Channel) {
	t.Helper()
	ctx := context.Background()
	var cur notifyv1.Channel
	if err := c.Get(ctx, client.ObjectKeyFromObject(ch), &cur); err == nil {
		ch.ResourceVersion = cur.ResourceVersion
		if err := c.Update(ctx, ch); err != nil {
			t.Fatal(err)
		}
		return
	}
	ch.ResourceVersion = ""
	if err := c.Create(ctx, ch); err != nil {
		t.Fatal(err)
	}
}

// secret is the credentials Secret the stored channel ns/name names.
func secret(t *testing.T, c client.Client, ns, name string) *corev1.Secret {
	t.Helper()
	var ch notifyv1.Channel
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &ch); err != nil {
		t.Fatalf("channel %s/%s: %v", ns, name, err)
	}
	if !notifychannel.OwnSecret(ns, name, ch.Spec.CredentialsSecret) {
		t.Fatalf("channel %s/%s names credentials Secret %q, not one of its own", ns, name, ch.Spec.CredentialsSecret)
	}
	return secretNamed(t, c, ch.Spec.CredentialsSecret)
}

func secretNamed(t *testing.T, c client.Client, name string) *corev1.Secret {
	t.Helper()
	var sec corev1.Secret
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: sysNS, Name: name}, &sec); err != nil {
		t.Fatalf("credentials Secret %s: %v", name, err)
	}
	return &sec
}

// secrets are the Secrets labelled as channel ns/name's credentials.
func secrets(t *testing.T, c client.Client, ns, name string) []corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := c.List(context.Background(), &list, client.InNamespace(sysNS), client.MatchingLabels{LabelChannel: ns + "." + name}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func noSecret(t *testing.T, c client.Client, ns, name string) {
	t.Helper()
	for _, sec := range secrets(t, c, ns, name) {
		t.Errorf("channel %s/%s has a credentials Secret %s holding %v", ns, name, sec.Name, keys(sec.Data))
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// noCredential fails when a credential is left anywhere in the body.
func noCredential(t *testing.T, u *unstructured.Unstructured, values ...string) {
	t.Helper()
	b, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"password"`, `"key"`} {
		if strings.Contains(string(b), f) {
			t.Errorf("the body keeps %s: %s", f, b)
		}
	}
	for _, v := range values {
		if strings.Contains(string(b), v) {
			t.Errorf("the body keeps the credential %q: %s", v, b)
		}
	}
}

func TestResources(t *testing.T) {
	m, _ := module(t)
	want := map[string]apigroup.PatchRule{"channel": apigroup.PatchAdmins, "template": apigroup.PatchAnyone, "receiver": apigroup.PatchAnyone, "receivergroup": apigroup.PatchAnyone}
	res := m.Resources()
	if len(res) != len(want) {
		t.Fatalf("resources %+v, want %v", res, want)
	}
	for _, r := range res {
		patch, ok := want[r.Kind]
		if !ok || !r.TenantScoped || r.Patch != patch || r.Project == nil {
			t.Errorf("resource %+v: want tenant-scoped, patch rule %v, governed by its project", r, patch)
			continue
		}
		if got := r.Project(attributes.Attributes{Namespace: prjA}); got != prjA {
			t.Errorf("%s: the project of an object in %s is %q", r.Kind, prjA, got)
		}
		if got := r.Project(attributes.Attributes{Namespace: sysNS}); got != "" {
			t.Errorf("%s: the project of a tenant-wide object is %q, want none", r.Kind, got)
		}
	}
	if m.Info().Group != Group || m.Info().Prefix != Prefix {
		t.Errorf("info %+v", m.Info())
	}
	var routes []string
	for _, rt := range m.Routes() {
		routes = append(routes, rt.Pattern)
	}
	wantRoutes := []string{
		"POST /notify/apis/notify.tkestack.io/v1/namespaces/{ns}/channels/{name}/test",
		"GET /notify/apis/notify.tkestack.io/v1/clusters/{cluster}/notifications",
		"GET /notify/apis/notify.tkestack.io/v1/clusters/{cluster}/notifications/export",
		"GET /notify/apis/notify.tkestack.io/v1/namespaces/{project}/notifications",
		"GET /notify/apis/notify.tkestack.io/v1/namespaces/{project}/notifications/export",
	}
	if !equality.Semantic.DeepEqual(routes, wantRoutes) {
		t.Errorf("routes %v, want %v", routes, wantRoutes)
	}
	if _, err := apigroup.NewRegistry(m); err != nil {
		t.Errorf("the group does not register: %v", err)
	}
}

// Names: generated when none is given; always in the platform's
// namespace, where every tenant's objects meet.
func TestAdmitName(t *testing.T) {
	m, _ := module(t)
	for _, tc := range []struct {
		name, ns, given, generate string
		obj                       client.Object
		want                      string // a regexp
	}{
		{"receiver without a name", prjA, "", "", receiver("", "", "default", notifyv1.ReceiverSpec{Email: "a@example.com"}), `^rcv-[a-z0-9]{8}$`},
		{"receiver named", prjA, "carol", "", receiver("", "carol", "default", notifyv1.ReceiverSpec{Email: "a@example.com"}), `^carol$`},
		{"tenant-wide receiver named", sysNS, "carol", "", receiver("", "carol", "default", notifyv1.ReceiverSpec{Email: "a@example.com"}), `^rcv-[a-z0-9]{8}$`},
		{"tenant-wide receiver with generateName", sysNS, "", "ops-", receiver("", "", "default", notifyv1.ReceiverSpec{Email: "a@example.com"}), `^ops-[a-z0-9]{8}$`},
		{"template without a name", prjA, "", "", template("", "", "default", "email"), `^tpl-[a-z0-9]{8}$`},
		{"tenant-wide template named", sysNS, "mail", "", template("", "mail", "default", "email"), `^tpl-[a-z0-9]{8}$`},
		{"group without a name", prjA, "", "", &notifyv1.ReceiverGroup{Spec: notifyv1.ReceiverGroupSpec{Receivers: []notifyv1.ObjectRef{{Name: "alice"}}}}, `^rcvg-[a-z0-9]{8}$`},
		{"channel without a name", prjA, "", "", channel("", "", "default", webhookSpec("https://hook.example")), `^chn-[a-z0-9]{8}$`},
		{"tenant-wide channel named", sysNS, "hook", "", channel("", "hook", "default", webhookSpec("https://hook.example")), `^chn-[a-z0-9]{8}$`},
		{"channel with generateName", prjA, "", "team-", channel("", "", "default", webhookSpec("https://hook.example")), `^team-[a-z0-9]{8}$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.obj.SetGenerateName(tc.generate)
			u, err := admit(t, m, pa, "create", tc.ns, tc.obj)
			apigrouptest.CheckRefusal(t, err, 0, "")
			if !regexp.MustCompile(tc.want).MatchString(u.GetName()) {
				t.Errorf("named %q, want %s", u.GetName(), tc.want)
			}
		})
	}
	// An update keeps its name, in the platform's namespace too.
	u, err := admit(t, m, admin, "update", sysNS, receiver(sysNS, "rcv-shared", "default", notifyv1.ReceiverSpec{Email: "b@example.com"}))
	apigrouptest.CheckRefusal(t, err, 0, "")
	if u.GetName() != "rcv-shared" {
		t.Errorf("an update renamed rcv-shared to %q", u.GetName())
	}
}

// Credentials are moved into the channel's Secret; the channel keeps a
// reference only, and none is ever in what is stored (and so served).
func TestAdmitCredentials(t *testing.T) {
	hdr := func(name, value string, secret bool) notifyv1.Header {
		return notifyv1.Header{Name: name, Value: value, Secret: secret}
	}
	for _, tc := range []struct {
		name   string
		spec   notifyv1.ChannelSpec
		want   map[string]string
		values []string
	}{
		{"email password", emailSpec("s3cret"), map[string]string{"password": "s3cret"}, []string{"s3cret"}},
		{"webhook secret headers", webhookSpec("https://hook.example", hdr("Authorization", "Bearer t0ken", true), hdr("X-Team", "ops", false), hdr("X-Key", "k3y", true)),
			map[string]string{"header.Authorization": "Bearer t0ken", "header.X-Key": "k3y"}, []string{"t0ken", "k3y"}},
		{"sms key", smsSpec("tencentcloud-sms", "sms-k3y"), map[string]string{"key": "sms-k3y"}, []string{"sms-k3y"}},
		{"wechat key", wechatSpec("wechat-mp", "wx-s3cret"), map[string]string{"key": "wx-s3cret"}, []string{"wx-s3cret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t)
			u, err := admit(t, m, pa, "create", prjA, channel("", "c1", "default", tc.spec))
			apigrouptest.CheckRefusal(t, err, 0, "")
			noCredential(t, u, tc.values...)
			ch := asChannel(t, u, prjA)
			if !regexp.MustCompile("^channel-" + prjA + "-c1-[0-9a-f]{8}$").MatchString(ch.Spec.CredentialsSecret) {
				t.Errorf("credentialsSecret %q", ch.Spec.CredentialsSecret)
			}
			sec := secretNamed(t, c, ch.Spec.CredentialsSecret)
			if len(sec.Data) != len(tc.want) {
				t.Errorf("Secret keys %v, want %v", keys(sec.Data), tc.want)
			}
			for k, v := range tc.want {
				if string(sec.Data[k]) != v {
					t.Errorf("Secret key %s = %q, want %q", k, sec.Data[k], v)
				}
			}
			if sec.Labels[LabelChannel] != prjA+".c1" || sec.Labels[authv1.LabelTenant] != "default" {
				t.Errorf("Secret labels %v", sec.Labels)
			}
			if ch.Spec.Webhook != nil && ch.Spec.Webhook.Headers[1].Value != "ops" {
				t.Errorf("a header that is not secret lost its value: %+v", ch.Spec.Webhook.Headers)
			}
			// The admitted channel is what Validate accepts.
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, pa, "create", ch)), 0, "")
		})
	}
}

// A replace without a value keeps the stored one; with one, replaces it;
// a credential the channel no longer has is dropped.
func TestAdmitCredentialsReplace(t *testing.T) {
	m, c := module(t)
	put := func(verb string, spec notifyv1.ChannelSpec) *notifyv1.Channel {
		t.Helper()
		u, err := admit(t, m, pa, verb, prjA, channel(prjA, "c1", "default", spec))
		apigrouptest.CheckRefusal(t, err, 0, "")
		noCredential(t, u, "one", "two", "tok")
		ch := asChannel(t, u, prjA)
		apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, pa, verb, ch)), 0, "")
		store(t, c, ch)
		return ch
	}
	put("create", emailSpec("one"))
	if got := string(secret(t, c, prjA, "c1").Data["password"]); got != "one" {
		t.Fatalf("password %q", got)
	}
	ch := put("update", emailSpec(""))
	if got := string(secret(t, c, prjA, "c1").Data["password"]); got != "one" || ch.Spec.CredentialsSecret == "" {
		t.Errorf("a replace without the password kept %q (credentialsSecret %q), want the stored one", got, ch.Spec.CredentialsSecret)
	}
	put("update", emailSpec("two"))
	if got := string(secret(t, c, prjA, "c1").Data["password"]); got != "two" {
		t.Errorf("a replace with a new password kept %q", got)
	}
	// Now a webhook: the password goes, the token comes.
	ch = put("update", webhookSpec("https://hook.example", notifyv1.Header{Name: "Authorization", Value: "tok", Secret: true}))
	if sec := secret(t, c, prjA, "c1"); len(sec.Data) != 1 || string(sec.Data["header.Authorization"]) != "tok" {
		t.Errorf("Secret after the change of type: %v", keys(sec.Data))
	}
	// Without any secret header: no credentials at all. The Secrets the
	// channel named are the collection's.
	ch = put("update", webhookSpec("https://hook.example"))
	if ch.Spec.CredentialsSecret != "" {
		t.Errorf("a channel without credentials names Secret %q", ch.Spec.CredentialsSecret)
	}
	collect(t, c, time.Now().Add(OrphanGrace))
	noSecret(t, c, prjA, "c1")
}

// collect runs the collection of credentials Secrets at now on every
// labelled Secret.
func collect(t *testing.T, c client.Client, now time.Time) {
	t.Helper()
	var list corev1.SecretList
	if err := c.List(context.Background(), &list, client.InNamespace(sysNS), client.HasLabels{LabelChannel}); err != nil {
		t.Fatal(err)
	}
	r := &Credentials{Client: c, Reader: c, SystemNamespace: sysNS, Now: func() time.Time { return now }}
	for _, sec := range list.Items {
		if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&sec)}); err != nil {
			t.Fatalf("collecting %s: %v", sec.Name, err)
		}
	}
}

// A Secret left by a channel of the same name that is gone gives a new
// channel nothing; a channel without credentials gets no Secret.
func TestAdmitCredentialsFresh(t *testing.T) {
	m, c := module(t)
	stale := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: sysNS, Name: "channel-" + prjA + "-c1-0123abcd",
		Labels: map[string]string{LabelChannel: prjA + ".c1", authv1.LabelTenant: "default"}}, Data: map[string][]byte{"password": []byte("old")}}
	if err := c.Create(context.Background(), stale); err != nil {
		t.Fatal(err)
	}
	u, err := admit(t, m, pa, "create", prjA, channel("", "c1", "default", edit(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.Username = "" })))
	apigrouptest.CheckRefusal(t, err, 0, "")
	if ch := asChannel(t, u, prjA); ch.Spec.CredentialsSecret != "" {
		t.Errorf("a new channel took the stale Secret %q", ch.Spec.CredentialsSecret)
	}
	if got := secrets(t, c, prjA, "c1"); len(got) != 1 || string(got[0].Data["password"]) != "old" {
		t.Errorf("the stale Secret is not left as it was to the collection: %+v", got)
	}
	// With credentials, a new Secret holds the new ones only.
	u, err = admit(t, m, pa, "create", prjA, channel("", "c1", "default", edit(emailSpec("new"), func(s *notifyv1.ChannelSpec) { s.Email.Username = "" })))
	apigrouptest.CheckRefusal(t, err, 0, "")
	if ch := asChannel(t, u, prjA); ch.Spec.CredentialsSecret == stale.Name || string(secretNamed(t, c, ch.Spec.CredentialsSecret).Data["password"]) != "new" {
		t.Errorf("a new channel's Secret: %q", ch.Spec.CredentialsSecret)
	}

	u, err = admit(t, m, pa, "create", prjA, channel("", "c2", "default", webhookSpec("https://hook.example", notifyv1.Header{Name: "X-Team", Value: "ops"})))
	apigrouptest.CheckRefusal(t, err, 0, "")
	if ch := asChannel(t, u, prjA); ch.Spec.CredentialsSecret != "" || ch.Spec.Webhook.Headers[0].Value != "ops" {
		t.Errorf("channel without credentials: %+v", ch.Spec)
	}
	noSecret(t, c, prjA, "c2")

	// A body naming a Secret gets it replaced by what the platform keeps.
	ch := channel("", "c3", "default", webhookSpec("https://hook.example"))
	ch.Spec.CredentialsSecret = "kstack-ca"
	u, err = admit(t, m, pa, "create", prjA, ch)
	apigrouptest.CheckRefusal(t, err, 0, "")
	if got := asChannel(t, u, prjA).Spec.CredentialsSecret; got != "" {
		t.Errorf("credentialsSecret %q kept from the body", got)
	}
	// Patches and deletes have no body: nothing to do.
	apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: pa, Attributes: attr(m, "patch", "channel", prjA, "smtp")}), 0, "")
}

func TestValidateChannel(t *testing.T) {
	hdr := func(name, value string, secret bool) notifyv1.Header {
		return notifyv1.Header{Name: name, Value: value, Secret: secret}
	}
	with := func(spec notifyv1.ChannelSpec, f func(*notifyv1.ChannelSpec)) notifyv1.ChannelSpec {
		s := spec.DeepCopy()
		f(s)
		return *s
	}
	const pem = "-----BEGIN CERTIFICATE-----\nMIIBhTCCASugAwIBAgIQIRi6zePL6mKjOipn+dNuaTAKBggqhkjOPQQDAjASMRAw\nDgYDVQQKEwdBY21lIENvMB4XDTE3MTAyMDE5NDMwNloXDTE4MTAyMDE5NDMwNlow\nEjEQMA4GA1UEChMHQWNtZSBDbzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABD0d\n7VNhbWvZLWPuj/RtHFjvtJBEwOkhbN/BnnE8rnZR8+sbwnc/KhCk3FhnpHZnQz7B\n5aETbbIgmuvewdjvSBSjYzBhMA4GA1UdDwEB/wQEAwICpDATBgNVHSUEDDAKBggr\nBgEFBQcDATAPBgNVHRMBAf8EBTADAQH/MCkGA1UdEQQiMCCCDmxvY2FsaG9zdDo1\nNDUzgg4xMjcuMC4wLjE6NTQ1MzAKBggqhkjOPQQDAgNIADBFAiEA2zpJEPQyz6/l\nWf86aX6PepsntZv2GYlA5UpabfT2EZICICpJ5h/iI+i341gBmLiAFQOyTDT+/wQc\n6MF9+Yw1Yy0t\n-----END CERTIFICATE-----\n"
	for _, tc := range []struct {
		name   string
		spec   notifyv1.ChannelSpec
		stored bool // an update of a stored channel
		allow  []netip.Prefix
		code   int
		msg    string
	}{
		{"email", emailSpec(""), false, nil, 0, ""},
		{"email, implicit TLS with a CA", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.TLS, s.Email.SMTPPort, s.Email.CABundle = "implicit", 465, pem }), false, nil, 0, ""},
		{"email, bare from", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.From = "alarms@example.com" }), false, nil, 0, ""},
		{"webhook", webhookSpec("https://hook.example/a", hdr("X-Team", "ops", false), hdr("Authorization", "", true)), false, nil, 0, ""},
		{"sms", smsSpec("tencentcloud-sms", ""), false, nil, 0, ""},
		{"sms with an endpoint", with(smsSpec("tencentcloud-sms", ""), func(s *notifyv1.ChannelSpec) { s.SMS.Endpoint = "https://sms.example" }), false, nil, 0, ""},
		{"wechat", wechatSpec("wechat-mp", ""), false, nil, 0, ""},

		// The type and its field.
		{"unknown type", notifyv1.ChannelSpec{Type: "pager"}, false, nil, 422, `spec.type "pager": use email, webhook, sms or wechat`},
		{"no field", notifyv1.ChannelSpec{Type: "email"}, false, nil, 422, "spec: a channel of type email sets spec.email and no other type's field"},
		{"two fields", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Webhook = webhookSpec("https://hook.example").Webhook }), false, nil, 422,
			"spec: a channel of type email sets spec.email and no other type's field"},
		{"the field of another type", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Type = "webhook" }), false, nil, 422,
			"spec: a channel of type webhook sets spec.webhook"},
		{"sms field in a wechat channel", with(smsSpec("wechat-mp", ""), func(s *notifyv1.ChannelSpec) { s.Type = "wechat" }), false, nil, 422,
			"spec: a channel of type wechat sets spec.wechat"},
		{"concurrency", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Concurrency = 33 }), false, nil, 422, "spec.concurrency 33 is out of range: 1 to 32"},
		{"display name", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.DisplayName = strings.Repeat("x", 61) }), false, nil, 422, "spec.displayName: at most 60 characters"},

		// Email.
		{"tls off", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.TLS = "none" }), false, nil, 422, `spec.email.tls "none": use starttls`},
		{"no tls", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.TLS = "" }), false, nil, 422, `spec.email.tls "": use starttls`},
		{"port 0", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.SMTPPort = 0 }), false, nil, 422, "spec.email.smtpPort 0 is out of range: 1 to 65535"},
		{"no host", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.SMTPHost = "" }), false, nil, 422, `spec.email.smtpHost ""`},
		{"host with a port", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.SMTPHost = "smtp.example:25" }), false, nil, 422,
			`spec.email.smtpHost "smtp.example:25": give the host alone; the port goes in spec.email.smtpPort`},
		{"IPv6 host, allowed", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.SMTPHost = "::1" }), false, []netip.Prefix{netip.MustParsePrefix("::1/128")}, 0, ""},
		{"IPv6 loopback host", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.SMTPHost = "::1" }), false, nil, 422, "spec.email.smtpHost: ::1 (::1) is a loopback address"},
		{"host with a line break", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.SMTPHost = "smtp.example\r\nRCPT" }), false, nil, 422, "spec.email.smtpHost"},
		{"loopback SMTP server", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.SMTPHost = "127.0.0.1" }), false, nil, 422,
			"spec.email.smtpHost: 127.0.0.1 (127.0.0.1) is a loopback address"},
		{"SMTP server named localhost", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.SMTPHost = "localhost" }), false, nil, 422,
			"spec.email.smtpHost: localhost (127.0.0.1) is a loopback address"},
		{"SMTP server resolving to link-local", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.SMTPHost = "sneaky.example" }), false, nil, 422,
			"spec.email.smtpHost: sneaky.example (169.254.169.254) is a link-local address"},
		{"SMTP server that does not resolve", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.SMTPHost = "nowhere.example" }), false, nil, 422,
			`spec.email.smtpHost: cannot resolve "nowhere.example"`},
		{"loopback SMTP server, allowed", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.SMTPHost = "127.0.0.1" }), false, []netip.Prefix{loopback}, 0, ""},
		{"from not an address", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.From = "alarms" }), false, nil, 422, `spec.email.from "alarms" is not a mail address`},
		{"from with a line break", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.From = "a@example.com\r\nBcc: x@example.com" }), false, nil, 422,
			"spec.email.from: an address holds no CR or LF"},
		{"username with a line break", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.Username = "a\nb" }), false, nil, 422, "spec.email.username"},
		{"CA bundle not PEM", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.CABundle = "not a certificate" }), false, nil, 422,
			"spec.email.caBundle: no PEM certificate in it"},

		// Webhook.
		{"loopback webhook", webhookSpec("http://127.0.0.1:8080/hook"), false, nil, 422, "spec.webhook.url: 127.0.0.1 (127.0.0.1) is a loopback address"},
		{"IPv6 loopback webhook", webhookSpec("http://[::1]:8080/hook"), false, nil, 422, "spec.webhook.url: ::1"},
		{"metadata service webhook", webhookSpec("http://169.254.169.254/latest/meta-data"), false, nil, 422,
			"spec.webhook.url: 169.254.169.254 (169.254.169.254) is a link-local address"},
		{"webhook named to link-local", webhookSpec("https://sneaky.example/"), false, nil, 422, "spec.webhook.url: sneaky.example (169.254.169.254) is a link-local address"},
		{"loopback webhook, allowed", webhookSpec("http://127.0.0.1:8080/hook"), false, []netip.Prefix{loopback}, 0, ""},
		{"loopback webhook, another range allowed", webhookSpec("http://127.0.0.1:8080/hook"), false, []netip.Prefix{linkLocal}, 422, "--dial-allow"},
		{"webhook not http", webhookSpec("ftp://hook.example/"), false, nil, 422, `spec.webhook.url: "ftp://hook.example/" is not an http or https URL`},
		{"webhook with a password in the URL", webhookSpec("https://u:p@hook.example/"), false, nil, 422, "spec.webhook.url: put credentials in"},
		{"header name not a token", webhookSpec("https://hook.example", hdr("X Team", "ops", false)), false, nil, 422,
			`spec.webhook.headers[0].name "X Team" is not a header name`},
		{"header name with a colon", webhookSpec("https://hook.example", hdr("X-Team:", "ops", false)), false, nil, 422, `spec.webhook.headers[0].name "X-Team:"`},
		{"empty header name", webhookSpec("https://hook.example", hdr("", "ops", false)), false, nil, 422, `spec.webhook.headers[0].name ""`},
		{"Host header", webhookSpec("https://hook.example", hdr("X-Team", "ops", false), hdr("host", "internal", false)), false, nil, 422,
			"spec.webhook.headers[1].name: Host is the connection's header"},
		{"Content-Length header", webhookSpec("https://hook.example", hdr("Content-Length", "0", false)), false, nil, 422, "Content-Length is the connection's header"},
		{"Transfer-Encoding header", webhookSpec("https://hook.example", hdr("Transfer-Encoding", "chunked", false)), false, nil, 422, "Transfer-Encoding is the connection's header"},
		{"Connection header", webhookSpec("https://hook.example", hdr("Connection", "close", false)), false, nil, 422, "Connection is the connection's header"},
		{"header given twice", webhookSpec("https://hook.example", hdr("X-Team", "a", false), hdr("x-team", "b", false)), false, nil, 422,
			"spec.webhook.headers[1].name: X-Team is given twice"},
		{"header value with CR LF", webhookSpec("https://hook.example", hdr("X-Team", "ops\r\nX-Injected: 1", false)), false, nil, 422,
			"spec.webhook.headers[0].value: a header value holds no CR, LF or NUL"},
		{"header value with LF", webhookSpec("https://hook.example", hdr("X-Team", "ops\nx", false)), false, nil, 422, "spec.webhook.headers[0].value"},
		{"timeout", with(webhookSpec("https://hook.example"), func(s *notifyv1.ChannelSpec) { s.Webhook.TimeoutSeconds = 31 }), false, nil, 422,
			"spec.webhook.timeoutSeconds 31 is out of range: 1 to 30"},
		{"webhook CA bundle not PEM", with(webhookSpec("https://hook.example"), func(s *notifyv1.ChannelSpec) { s.Webhook.CABundle = "x" }), false, nil, 422,
			"spec.webhook.caBundle: no PEM certificate"},

		// Providers.
		{"unknown sms provider", smsSpec("x", ""), false, nil, 422, `spec.sms.provider "x": known providers: tencentcloud-sms, wechat-mp`},
		{"unknown wechat provider", wechatSpec("", ""), false, nil, 422, `spec.wechat.provider "": known providers:`},
		{"loopback provider endpoint", with(smsSpec("tencentcloud-sms", ""), func(s *notifyv1.ChannelSpec) { s.SMS.Endpoint = "http://127.0.0.1:9000" }), false, nil, 422,
			"spec.sms.endpoint: 127.0.0.1 (127.0.0.1) is a loopback address"},
		{"provider endpoint not a URL", with(wechatSpec("wechat-mp", ""), func(s *notifyv1.ChannelSpec) { s.WeChat.Endpoint = "wx.example:443" }), false, nil, 422,
			"spec.wechat.endpoint"},
		{"param with a line break", with(smsSpec("tencentcloud-sms", ""), func(s *notifyv1.ChannelSpec) { s.SMS.Params["signName"] = "a\r\nb" }), false, nil, 422,
			`spec.sms.params["signName"]: names and values hold no CR, LF or NUL`},

		// Credentials are never stored.
		{"a password patched in", emailSpec("pw"), true, nil, 422,
			"spec.email.password: a credential is sent with a create or a replace (PUT) of the whole channel, never in a patch"},
		{"a password in a create", emailSpec("pw"), false, nil, 422, "spec.email.password: a credential is sent with a create or a replace"},
		{"a secret header value", webhookSpec("https://hook.example", hdr("Authorization", "Bearer x", true)), true, nil, 422,
			"spec.webhook.headers[0].value: a credential is sent"},
		{"an sms key", smsSpec("tencentcloud-sms", "k"), true, nil, 422, "spec.sms.key: a credential is sent"},
		{"a wechat key", wechatSpec("wechat-mp", "k"), false, nil, 422, "spec.wechat.key: a credential is sent"},
		{"its own Secret", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.CredentialsSecret = "channel-" + prjA + "-c1-0123abcd" }), false, nil, 0, ""},
		{"another channel's Secret", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.CredentialsSecret = "channel-" + prjB + "-theirs-0123abcd" }), true, nil, 422,
			`spec.credentialsSecret "channel-prj-bbbbbbbb-theirs-0123abcd" is not this channel's (channel-prj-aaaaaaaa-c1-…)`},
		{"the Secret of a channel named like it", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.CredentialsSecret = "channel-" + prjA + "-c1-x-0123abcd" }), true, nil, 422,
			`spec.credentialsSecret "channel-prj-aaaaaaaa-c1-x-0123abcd" is not this channel's`},
		{"its unversioned Secret", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.CredentialsSecret = "channel-" + prjA + "-c1" }), true, nil, 422,
			`spec.credentialsSecret "channel-prj-aaaaaaaa-c1" is not this channel's`},
		{"another Secret of the platform", with(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.CredentialsSecret = "kstack-ca" }), false, nil, 422,
			`spec.credentialsSecret "kstack-ca" is not this channel's`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t, tc.allow...)
			verb := "create"
			if tc.stored {
				if err := c.Create(context.Background(), channel(prjA, "c1", "default", emailSpec(""))); err != nil {
					t.Fatal(err)
				}
				verb = "update"
			}
			r := validateRequest(t, m, c, admin, verb, channel(prjA, "c1", "default", tc.spec))
			before := r.Object.DeepCopy()
			err := m.Validate(context.Background(), r)
			apigrouptest.CheckRefusal(t, err, tc.code, tc.msg)
			if (strings.Contains(tc.msg, "-local address") || strings.Contains(tc.msg, "loopback address")) && !strings.Contains(err.Error(), "--dial-allow") {
				t.Errorf("%v: the refusal does not say how to allow the address (--dial-allow)", err)
			}
			if !equality.Semantic.DeepEqual(before.Object, r.Object.Object) {
				t.Errorf("Validate changed the object")
			}
		})
	}
}

func TestValidateTemplate(t *testing.T) {
	with := func(channelType string, f func(*notifyv1.TemplateSpec)) *notifyv1.Template {
		tpl := template(prjA, "t1", "default", channelType)
		f(&tpl.Spec)
		return tpl
	}
	for _, tc := range []struct {
		name string
		tpl  *notifyv1.Template
		code int
		msg  string
	}{
		{"email", template(prjA, "t1", "default", "email"), 0, ""},
		{"webhook", template(prjA, "t1", "default", "webhook"), 0, ""},
		{"sms", template(prjA, "t1", "default", "sms"), 0, ""},
		{"unknown variable", with("email", func(s *notifyv1.TemplateSpec) { s.Body = "{{.Status}}\n{{.Foo}}" }), 422, "spec.body: unknown variable .Foo"},
		{"unknown function", with("email", func(s *notifyv1.TemplateSpec) { s.Body = `{{query "up"}}` }), 422, `function "query" not defined`},
		{"parse error", with("email", func(s *notifyv1.TemplateSpec) { s.Body = "{{.Status" }), 422, "spec.body"},
		{"subject with a line break", with("email", func(s *notifyv1.TemplateSpec) { s.Subject = "a\r\nBcc: x@example.com" }), 422, "spec.subject"},
		{"webhook body that is not JSON", with("webhook", func(s *notifyv1.TemplateSpec) { s.Body = "{{.Status}}" }), 422, "JSON"},
		{"unknown channel type", with("email", func(s *notifyv1.TemplateSpec) { s.ChannelType = "pager" }), 422, `spec.channelType "pager"`},
		{"display name", with("email", func(s *notifyv1.TemplateSpec) { s.DisplayName = strings.Repeat("x", 61) }), 422, "spec.displayName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t)
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, pa, "create", tc.tpl)), tc.code, tc.msg)
		})
	}
}

func TestValidateReceiver(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec notifyv1.ReceiverSpec
		code int
		msg  string
	}{
		{"email", notifyv1.ReceiverSpec{Email: "carol@example.com"}, 0, ""},
		{"mobile", notifyv1.ReceiverSpec{Mobile: "+8613800000000"}, 0, ""},
		{"mobile without +", notifyv1.ReceiverSpec{Mobile: "13800000000"}, 0, ""},
		{"openID", notifyv1.ReceiverSpec{WeChatOpenID: "oAbC-12_x"}, 0, ""},
		{"all", notifyv1.ReceiverSpec{Email: "c@example.com", Mobile: "123456", WeChatOpenID: "o1", Username: "carol", DisplayName: "Carol"}, 0, ""},
		{"no address", notifyv1.ReceiverSpec{Username: "carol"}, 422, "spec: give at least one address: email, mobile or wechatOpenID"},
		{"email not an address", notifyv1.ReceiverSpec{Email: "carol"}, 422, `spec.email "carol" is not a mail address`},
		{"email with a display name", notifyv1.ReceiverSpec{Email: "Carol <c@example.com>"}, 422, "spec.email"},
		{"two emails", notifyv1.ReceiverSpec{Email: "a@example.com, b@example.com"}, 422, "spec.email"},
		{"email with a line break", notifyv1.ReceiverSpec{Email: "a@example.com\r\nBcc: x@example.com"}, 422, "spec.email"},
		{"mobile with letters", notifyv1.ReceiverSpec{Mobile: "+86abc"}, 422, `spec.mobile "+86abc" is not a mobile number`},
		{"mobile too short", notifyv1.ReceiverSpec{Mobile: "12345"}, 422, "spec.mobile"},
		{"mobile too long", notifyv1.ReceiverSpec{Mobile: "1234567890123456"}, 422, "spec.mobile"},
		{"openID with a space", notifyv1.ReceiverSpec{WeChatOpenID: "o 1"}, 422, `spec.wechatOpenID "o 1"`},
		{"display name", notifyv1.ReceiverSpec{Email: "c@example.com", DisplayName: strings.Repeat("x", 61)}, 422, "spec.displayName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t)
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, pa, "create", receiver(prjA, "r1", "default", tc.spec))), tc.code, tc.msg)
		})
	}
}

func group(ns, tenant string, refs ...notifyv1.ObjectRef) *notifyv1.ReceiverGroup {
	return &notifyv1.ReceiverGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "g1", Labels: label(tenant)},
		Spec: notifyv1.ReceiverGroupSpec{TenantID: tenant, Receivers: refs}}
}

func ref(ns, name string) notifyv1.ObjectRef { return notifyv1.ObjectRef{Namespace: ns, Name: name} }

// A group's receivers are of its tenant, in its namespace or the
// platform's, and the writer's to read.
func TestValidateReceiverGroup(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    *directory.Principal
		g    *notifyv1.ReceiverGroup
		code int
		msg  string
	}{
		{"own project's", pa, group(prjA, "default", ref("", "alice")), 0, ""},
		{"own project's, by a member", pm, group(prjA, "default", ref("", "alice"), ref(prjA, "hookonly")), 0, ""},
		{"tenant-wide, by an administrator", admin, group(prjA, "default", ref("", "alice"), ref(sysNS, "rcv-shared")), 0, ""},
		{"tenant-wide, by a platform user", tu, group(prjA, "default", ref(sysNS, "rcv-shared")), 0, ""},
		{"tenant-wide group", tu, group(sysNS, "default", ref("", "rcv-shared")), 0, ""},
		{"none", pa, group(prjA, "default"), 422, "spec.receivers: name at least one receiver"},
		{"missing", pa, group(prjA, "default", ref("", "alice"), ref("", "zed")), 422, `spec.receivers[1]: no receiver "zed"`},
		{"no name", pa, group(prjA, "default", ref("", "")), 422, "spec.receivers[0]: name the receiver"},
		{"twice", pa, group(prjA, "default", ref("", "alice"), ref(prjA, "alice")), 422, "spec.receivers[1]: receiver prj-aaaaaaaa/alice is named twice"},
		{"another project's", pa, group(prjA, "default", ref(prjB, "bob")), 422,
			"spec.receivers[0]: a reference names a receiver of namespace prj-aaaaaaaa (this object's) or kstack-system (the tenant's), not of prj-bbbbbbbb"},
		{"another project's, by an administrator", admin, group(prjA, "default", ref(prjB, "bob")), 422, "not of prj-bbbbbbbb"},
		{"another tenant's, in the platform's namespace", admin, group(prjA, "default", ref(sysNS, "rcv-theirs")), 422, `spec.receivers[0]: no receiver "rcv-theirs"`},
		{"another tenant's, by its name alone", tu, group(sysNS, "default", ref("", "rcv-theirs")), 422, `spec.receivers[0]: no receiver "rcv-theirs"`},
		{"the other tenant's view of ours", oa, group(prjO, "other", ref(sysNS, "rcv-shared")), 422, `spec.receivers[0]: no receiver "rcv-shared"`},
		{"tenant-wide, by a project admin who may not read it", pa, group(prjA, "default", ref(sysNS, "rcv-shared")), 403,
			"spec.receivers[0]: pa may not use receiver rcv-shared (it needs getReceiver)"},
		{"own project's, by one who may not read it", nobody, group(prjA, "default", ref("", "alice")), 403,
			"spec.receivers[0]: nobody may not use receiver alice (it needs getReceiver)"},
		{"own project's, by a reader", pv, group(prjA, "default", ref("", "alice")), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t)
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, tc.p, "create", tc.g)), tc.code, tc.msg)
		})
	}
}

// Objects live in a project of their tenant or in the platform's
// namespace: another tenant's project is no place for them.
func TestValidateNamespace(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    *directory.Principal
		obj  client.Object
		code int
		msg  string
	}{
		{"own project", pa, receiver(prjA, "r1", "default", notifyv1.ReceiverSpec{Email: "a@example.com"}), 0, ""},
		{"the platform's namespace", tu, template(sysNS, "tpl-1", "default", "email"), 0, ""},
		{"the other tenant's own project", oa, receiver(prjO, "r1", "other", notifyv1.ReceiverSpec{Email: "a@example.com"}), 0, ""},
		{"another tenant's project", tu, receiver(prjO, "r1", "default", notifyv1.ReceiverSpec{Email: "a@example.com"}), 422,
			`metadata.namespace: no project "prj-oooooooo": these objects live in a project's namespace, or in kstack-system for the whole tenant`},
		{"ours, from another tenant", oa, channel(prjA, "c1", "other", webhookSpec("https://hook.example")), 422, `metadata.namespace: no project "prj-aaaaaaaa"`},
		{"a namespace of no project", admin, template("default", "t1", "default", "email"), 422, `metadata.namespace: no project "default"`},
		{"a group in another tenant's project", oa, group(prjA, "other", ref("", "alice")), 422, `metadata.namespace: no project "prj-aaaaaaaa"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t)
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, tc.p, "create", tc.obj)), tc.code, tc.msg)
		})
	}
}

// No credential is written for a write that will be refused: a create
// over an existing channel, a channel that does not validate.
func TestAdmitCredentialsRefused(t *testing.T) {
	m, c := module(t)
	u, err := admit(t, m, pa, "create", prjA, channel("", "c1", "default", emailSpec("one")))
	apigrouptest.CheckRefusal(t, err, 0, "")
	store(t, c, asChannel(t, u, prjA))

	_, err = admit(t, m, pa, "create", prjA, channel("", "c1", "default", emailSpec("mallory")))
	apigrouptest.CheckRefusal(t, err, 409, `channels "c1" already exists`)
	_, err = admit(t, m, pa, "update", prjA, channel(prjA, "c1", "default", edit(emailSpec("two"), func(s *notifyv1.ChannelSpec) { s.Email.SMTPHost = "127.0.0.1" })))
	apigrouptest.CheckRefusal(t, err, 422, "spec.email.smtpHost: 127.0.0.1 (127.0.0.1) is a loopback address")
	_, err = admit(t, m, pa, "update", prjA, channel(prjA, "c1", "default", edit(emailSpec("three"), func(s *notifyv1.ChannelSpec) { s.Email.TLS = "none" })))
	apigrouptest.CheckRefusal(t, err, 422, `spec.email.tls "none"`)
	if got := string(secret(t, c, prjA, "c1").Data["password"]); got != "one" {
		t.Errorf("refused writes changed the password to %q", got)
	}
	_, err = admit(t, m, pa, "create", prjA, channel("", "c2", "default", edit(webhookSpec("http://[::1]/"), func(s *notifyv1.ChannelSpec) {
		s.Webhook.Headers = []notifyv1.Header{{Name: "Authorization", Value: "tok", Secret: true}}
	})))
	apigrouptest.CheckRefusal(t, err, 422, "spec.webhook.url: ::1")
	noSecret(t, c, prjA, "c2")
	_, err = admit(t, m, oa, "create", prjA, channel("", "c3", "other", emailSpec("pw")))
	apigrouptest.CheckRefusal(t, err, 422, `metadata.namespace: no project "prj-aaaaaaaa"`)
	noSecret(t, c, prjA, "c3")
}

func edit[T any](v T, f func(*T)) T {
	f(&v)
	return v
}

// A credential the channel cannot send without is given on create, and
// kept on a replace that leaves it out.
func TestAdmitCredentialsRequired(t *testing.T) {
	hdr := func(name, value string) notifyv1.Header {
		return notifyv1.Header{Name: name, Value: value, Secret: true}
	}
	m, c := module(t)
	for _, tc := range []struct {
		name string
		spec notifyv1.ChannelSpec
		msg  string
	}{
		{"email login without a password", emailSpec(""), "spec.email.password: give it: the channel cannot send without it, and none is kept"},
		{"secret header without a value", webhookSpec("https://hook.example", hdr("X-A", "a"), hdr("Authorization", "")), "spec.webhook.headers[1].value: give it"},
		{"sms without a key", smsSpec("tencentcloud-sms", ""), "spec.sms.key: give it"},
		{"wechat without a key", wechatSpec("wechat-mp", ""), "spec.wechat.key: give it"},
	} {
		_, err := admit(t, m, pa, "create", prjA, channel("", "c-"+strings.ReplaceAll(tc.name, " ", "-"), "default", tc.spec))
		apigrouptest.CheckRefusal(t, err, 422, tc.msg)
	}
	// Stored with its token, the channel is replaced without it: kept. A
	// header renamed has no token kept.
	u, err := admit(t, m, pa, "create", prjA, channel("", "c1", "default", webhookSpec("https://hook.example", hdr("Authorization", "tok"))))
	apigrouptest.CheckRefusal(t, err, 0, "")
	store(t, c, asChannel(t, u, prjA))
	_, err = admit(t, m, pa, "update", prjA, channel(prjA, "c1", "default", webhookSpec("https://hook.example", hdr("Authorization", ""))))
	apigrouptest.CheckRefusal(t, err, 0, "")
	_, err = admit(t, m, pa, "update", prjA, channel(prjA, "c1", "default", webhookSpec("https://hook.example", hdr("X-Token", ""))))
	apigrouptest.CheckRefusal(t, err, 422, "spec.webhook.headers[0].value: give it")
	if got := string(secret(t, c, prjA, "c1").Data["header.Authorization"]); got != "tok" {
		t.Errorf("token %q after a refused replace", got)
	}
}
