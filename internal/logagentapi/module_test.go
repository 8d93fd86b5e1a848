package logagentapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	logagentv1 "github.com/kstack/kstack/api/logagent/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/apigroup/apigrouptest"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/business/admission"
	"github.com/kstack/kstack/internal/businessapi"
	"github.com/kstack/kstack/internal/dialcheck"
	"github.com/kstack/kstack/internal/platformscheme"
)

const (
	sysNS = "kstack-system"
	prjA  = "prj-aaaaaaaa" // cls-a: namespace web; pa administers it
	prjB  = "prj-bbbbbbbb" // cls-a: namespace db
)

var tenantLabel = map[string]string{authv1.LabelTenant: "default"}

var (
	admin  = &directory.Principal{Username: "admin", Tenant: "default", SuperAdmin: true}
	pa     = &directory.Principal{Username: "pa", Tenant: "default"}     // project admin of prjA
	seer   = &directory.Principal{Username: "seer", Tenant: "default"}   // may get every cluster, in no project
	nobody = &directory.Principal{Username: "nobody", Tenant: "default"} // holds nothing
)

// resolve is the test's DNS: names of the sinks, and one that points at
// the cloud metadata service.
func resolve(_ context.Context, host string) ([]netip.Addr, error) {
	switch host {
	case "kafka.example":
		return []netip.Addr{netip.MustParseAddr("198.18.0.10")}, nil
	case "es.example":
		return []netip.Addr{netip.MustParseAddr("198.18.0.11")}, nil
	case "loki.example":
		return []netip.Addr{netip.MustParseAddr("198.18.0.12")}, nil
	case "sneaky.example":
		return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
	}
	return nil, errors.New("no such host")
}

// module is the logagent group over a fake client with the predefined
// policies, clusters cls-a (tenant default) and cls-o (tenant other),
// projects prjA and prjB with a namespace each in cls-a, and the callers
// above. allow is the policy's --dial-allow.
func module(t *testing.T, allow ...netip.Prefix) (*Module, client.Client) {
	t.Helper()
	cluster := func(name, tenant string) *platformv1.Cluster {
		return &platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{authv1.LabelTenant: tenant}},
			Spec: platformv1.ClusterSpec{TenantID: tenant, Type: platformv1.ClusterImported}}
	}
	project := func(name string) *businessv1.Project {
		return &businessv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: tenantLabel},
			Spec: businessv1.ProjectSpec{TenantID: "default", Clusters: []businessv1.ClusterQuota{{Name: "cls-a"}}}}
	}
	ns := func(project, cluster, name string) *businessv1.Namespace {
		return &businessv1.Namespace{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: businessv1.ObjectName(cluster, name),
			Labels: map[string]string{authv1.LabelTenant: "default", admission.LabelCluster: cluster, admission.LabelNamespace: name}},
			Spec: businessv1.NamespaceSpec{TenantID: "default", ProjectName: project, ClusterName: cluster, Namespace: name}}
	}
	objs := []client.Object{
		cluster("cls-a", "default"), cluster("cls-o", "other"),
		project(prjA), project(prjB),
		ns(prjA, "cls-a", "web"), ns(prjB, "cls-a", "db"),
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "see-clusters", Labels: tenantLabel},
			Spec: authv1.PolicySpec{TenantID: "default", Scope: authv1.ScopePlatform,
				Statements: []authv1.Statement{{Actions: []string{"getCluster"}, Resources: []string{"cluster:*"}, Effect: "allow"}}}},
		&authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "pa", Labels: tenantLabel},
			Spec: authv1.PolicyBindingSpec{TenantID: "default", PolicyName: directory.PolicyProjectAdmin, Users: []string{"pa"}, ProjectID: prjA}},
		&authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "seer", Labels: tenantLabel},
			Spec: authv1.PolicyBindingSpec{TenantID: "default", PolicyName: "see-clusters", Users: []string{"seer"}}},
	}
	b := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(objs...).
		WithStatusSubresource(&logagentv1.LogCollector{})
	for _, ix := range admission.Indexers {
		b = b.WithIndex(ix.Object, ix.Field, ix.Func)
	}
	c := b.Build()
	if err := directory.EnsurePredefined(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	dec := &decision.Decider{Dir: &directory.Directory{Client: c}}
	// As the platform wires it: project policies apply in a project's namespaces.
	dec.ProjectOf = (&businessapi.Module{Env: apigroup.Env{Client: c, Reader: c}}).ProjectOf
	env := apigroup.Env{Client: c, Reader: c, Decider: dec, SystemNamespace: sysNS}
	return &Module{Env: env, Dial: &dialcheck.Policy{Allow: allow, Resolve: resolve}}, c
}

func kafka(name string, brokers ...string) logagentv1.LogOutput {
	return logagentv1.LogOutput{Name: name, Type: "kafka", Kafka: &logagentv1.KafkaOutput{Brokers: brokers, Topic: "logs"}}
}

func es(name string, addrs ...string) logagentv1.LogOutput {
	return logagentv1.LogOutput{Name: name, Type: "elasticsearch", Elasticsearch: &logagentv1.ElasticsearchOutput{Addresses: addrs, Index: "logs"}}
}

func loki(name, url string) logagentv1.LogOutput {
	return logagentv1.LogOutput{Name: name, Type: "loki", Loki: &logagentv1.LokiOutput{URL: url}}
}

// withCreds sets an output's username, password and passwordSecret.
func withCreds(o logagentv1.LogOutput, user, password, secret string) logagentv1.LogOutput {
	o = *o.DeepCopy()
	c := credentialsOf(&o)
	c.Username, c.Password, c.PasswordSecret = user, password, secret
	return o
}

var (
	stdout = logagentv1.LogInput{Type: logagentv1.InputStdout}
	goodK  = kafka("k", "kafka.example:9092")
)

func hostFiles(globs ...string) logagentv1.LogInput {
	return logagentv1.LogInput{Type: logagentv1.InputHostFile, HostFiles: globs}
}

func containerFile(p string) logagentv1.LogInput {
	return logagentv1.LogInput{Type: logagentv1.InputContainerFile, ContainerFiles: []logagentv1.ContainerFileRef{
		{Workload: logagentv1.WorkloadRef{Kind: "Deployment", Name: "api"}, Container: "app", Path: p}}}
}

func workloads(names ...string) logagentv1.LogInput {
	in := logagentv1.LogInput{Type: logagentv1.InputStdout}
	for _, n := range names {
		in.Workloads = append(in.Workloads, logagentv1.WorkloadRef{Kind: "Deployment", Name: n})
	}
	return in
}

// rule is a collector as it would be stored: in namespace ns (a project's,
// or the system namespace), in the tenant, its project filled in.
func rule(ns, name, cluster, namespace string, in logagentv1.LogInput, outs ...logagentv1.LogOutput) *logagentv1.LogCollector {
	lc := &logagentv1.LogCollector{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{authv1.LabelTenant: "default"}},
		Spec: logagentv1.LogCollectorSpec{TenantID: "default", ClusterName: cluster, Namespace: namespace, Input: in, Outputs: outs}}
	if namespace != "" && ns != sysNS {
		lc.Spec.ProjectName = ns
	}
	return lc
}

// validateRequest is the request the admission webhook makes of a create
// (verb "create") or update ("update") of obj, as it would be stored: its
// attributes as admissionwebhook.Attributes builds them (the project from
// the kind's Resource) and, for an update, the stored object as Old.
func validateRequest(t *testing.T, m *Module, c client.Client, p *directory.Principal, verb string, obj client.Object) *apigroup.Request {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	u := apigrouptest.Unstructured(t, obj)
	u.SetGroupVersionKind(gvk)
	kind := strings.ToLower(gvk.Kind)
	a := attributes.Attributes{Verb: verb, APIGroup: gvk.Group, Kind: kind, Namespace: u.GetNamespace(), Name: u.GetName(),
		Action: verb + gvk.Kind, Resource: kind + ":" + u.GetName()}
	if a.Namespace != "" {
		a.Resource = "namespace:" + a.Namespace + "/" + a.Resource
	}
	for _, res := range m.Resources() {
		if res.Kind == kind && res.Project != nil {
			a.Project = res.Project(a)
		}
	}
	r := &apigroup.Request{Principal: p, Attributes: a, Object: u}
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

func lcAttr(verb, ns, name string) attributes.Attributes {
	return attributes.Attributes{Verb: verb, APIGroup: Group, Kind: "logcollector", Namespace: ns, Name: name, Project: ns,
		Action: verb + "LogCollector", Resource: "namespace:" + ns + "/logcollector:" + name}
}

// body is a collector as a caller sends it: the gateway has put it in the
// tenant; metadata.namespace is the caller's (kubectl sets it, curl need not).
func body(ns, name, namespace string, in logagentv1.LogInput, outs ...logagentv1.LogOutput) *logagentv1.LogCollector {
	lc := rule(ns, name, "cls-a", namespace, in, outs...)
	lc.Spec.ProjectName = ""
	return lc
}

func TestResources(t *testing.T) {
	m, _ := module(t)
	res := m.Resources()
	if len(res) != 1 || res[0].Kind != "logcollector" || !res[0].TenantScoped || res[0].Patch != apigroup.PatchAdmins || res[0].Project == nil {
		t.Fatalf("resources %+v: want one tenant-scoped logcollector, patched by administrators only, governed by its project", res)
	}
	if got := res[0].Project(attributes.Attributes{Namespace: prjA}); got != prjA {
		t.Errorf("the project of a rule in namespace %s is %q", prjA, got)
	}
	if m.Info().Group != Group || m.Info().Prefix != Prefix {
		t.Errorf("info %+v", m.Info())
	}
}

// admitted converts an admitted body back, placed where the API server
// stores it (the URL's namespace).
func admitted(t *testing.T, u *unstructured.Unstructured, ns string) *logagentv1.LogCollector {
	t.Helper()
	var lc logagentv1.LogCollector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &lc); err != nil {
		t.Fatal(err)
	}
	if lc.Namespace == "" {
		lc.Namespace = ns
	}
	return &lc
}

func secretOf(t *testing.T, c client.Client, ns, name string) *corev1.Secret {
	t.Helper()
	var sec corev1.Secret
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: sysNS, Name: "logcollector-" + ns + "-" + name}, &sec); err != nil {
		t.Fatalf("the password Secret of %s/%s: %v", ns, name, err)
	}
	return &sec
}

// noPassword fails when a password is left anywhere in the body.
func noPassword(t *testing.T, u *unstructured.Unstructured, secrets ...string) {
	t.Helper()
	b, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"password"`) {
		t.Errorf("the body keeps a password: %s", b)
	}
	for _, s := range secrets {
		if strings.Contains(string(b), s) {
			t.Errorf("the body keeps the password %q: %s", s, b)
		}
	}
}

func TestAdmitName(t *testing.T) {
	m, c := module(t)
	re := regexp.MustCompile(`^lc-[a-z0-9]{8}$`)
	seen := map[string]bool{}
	for range 5 {
		u := apigrouptest.Unstructured(t, body(prjA, "", "web", stdout, goodK))
		apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: pa, Attributes: lcAttr("create", prjA, ""), Object: u}), 0, "")
		if !re.MatchString(u.GetName()) || seen[u.GetName()] {
			t.Fatalf("a rule created without a name is named %q; want a new lc-xxxxxxxx", u.GetName())
		}
		seen[u.GetName()] = true
		apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, pa, "create", admitted(t, u, prjA))), 0, "")
	}
	for _, tc := range []struct {
		name, verb, given, want string
	}{
		{"named", "create", "mine", "mine"},
		{"an update keeps its name", "update", "mine", "mine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := apigrouptest.Unstructured(t, body(prjA, tc.given, "web", stdout, goodK))
			apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: pa, Attributes: lcAttr(tc.verb, prjA, tc.given), Object: u}), 0, "")
			if u.GetName() != tc.want {
				t.Errorf("name %q, want %q", u.GetName(), tc.want)
			}
		})
	}
}

// A rule created with generateName has its passwords kept under the name
// it will have: the name is made here, not by the API server.
func TestAdmitGenerateName(t *testing.T) {
	m, c := module(t)
	lc := body(prjA, "", "web", stdout, withCreds(goodK, "u", "s3cret", ""))
	lc.GenerateName = "app-"
	u := apigrouptest.Unstructured(t, lc)
	apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: pa, Attributes: lcAttr("create", prjA, ""), Object: u}), 0, "")
	if !regexp.MustCompile(`^app-[a-z0-9]{5}$`).MatchString(u.GetName()) {
		t.Fatalf("a rule created with generateName app- is named %q", u.GetName())
	}
	noPassword(t, u, "s3cret")
	if got := string(secretOf(t, c, prjA, u.GetName()).Data["k"]); got != "s3cret" {
		t.Errorf("password kept %q", got)
	}
	apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, pa, "create", admitted(t, u, prjA))), 0, "")
}

func TestAdmitProject(t *testing.T) {
	for _, tc := range []struct {
		name      string
		p         *directory.Principal
		ns        string
		obj       *logagentv1.LogCollector
		want      string
		validated int // Validate's answer on the admitted object
	}{
		{"set from the namespace", pa, prjA, body(prjA, "r", "web", stdout, goodK), prjA, 0},
		{"set when the body leaves out the namespace", pa, prjA, body("", "r", "web", stdout, goodK), prjA, 0},
		{"another project's name replaced", pa, prjA, func() *logagentv1.LogCollector {
			lc := body(prjA, "r", "web", stdout, goodK)
			lc.Spec.ProjectName = prjB
			return lc
		}(), prjA, 0},
		{"a cluster rule has none", admin, sysNS, body(sysNS, "r", "", stdout, goodK), "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t)
			u := apigrouptest.Unstructured(t, tc.obj)
			apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: tc.p, Attributes: lcAttr("create", tc.ns, ""), Object: u}), 0, "")
			if got, _, _ := unstructured.NestedString(u.Object, "spec", "projectName"); got != tc.want {
				t.Errorf("spec.projectName %q, want %q", got, tc.want)
			}
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, tc.p, "create", admitted(t, u, tc.ns))), tc.validated, "")
		})
	}
}

// Passwords are moved into the collector's Secret; the rule keeps a
// reference only.
func TestAdmitPasswords(t *testing.T) {
	outs := []logagentv1.LogOutput{
		withCreds(kafka("k", "kafka.example:9092"), "ku", "kpw", ""),
		withCreds(es("e", "https://es.example:9200"), "eu", "epw", ""),
		withCreds(loki("l", "https://loki.example"), "lu", "lpw", ""),
		kafka("plain", "kafka.example:9092"),
	}
	for _, tc := range []struct {
		name string
		obj  *logagentv1.LogCollector
	}{
		{"namespace in the body", body(prjA, "r", "web", stdout, outs...)},
		{"namespace in the URL only", body("", "r", "web", stdout, outs...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t)
			ctx := context.Background()
			u := apigrouptest.Unstructured(t, tc.obj)
			apigrouptest.CheckRefusal(t, m.Admit(ctx, &apigroup.Request{Principal: pa, Attributes: lcAttr("create", prjA, "r"), Object: u}), 0, "")
			noPassword(t, u, "kpw", "epw", "lpw")
			lc := admitted(t, u, prjA)
			secret := "logcollector-" + prjA + "-r"
			for i, o := range lc.Spec.Outputs {
				cr := credentialsOf(&o)
				want := secret
				if o.Name == "plain" {
					want = ""
				}
				if cr.PasswordSecret != want || cr.Password != "" {
					t.Errorf("outputs[%d] %s: passwordSecret %q password %q, want %q and none", i, o.Name, cr.PasswordSecret, cr.Password, want)
				}
				if cr.Username != "" && cr.Username != o.Name+"u" {
					t.Errorf("outputs[%d]: username %q changed", i, cr.Username)
				}
			}
			sec := secretOf(t, c, prjA, "r")
			want := map[string]string{"k": "kpw", "e": "epw", "l": "lpw"}
			if len(sec.Data) != len(want) {
				t.Errorf("Secret data %v, want %v", sec.Data, want)
			}
			for k, v := range want {
				if string(sec.Data[k]) != v {
					t.Errorf("Secret key %s = %q, want %q", k, sec.Data[k], v)
				}
			}
			if sec.Labels[LabelCollector] != prjA+".r" || sec.Labels[apigroup.LabelTenant] != "default" {
				t.Errorf("Secret labels %v: want the collector %s.r and tenant default", sec.Labels, prjA)
			}
			// What Admit made is what Validate takes.
			apigrouptest.CheckRefusal(t, m.Validate(ctx, validateRequest(t, m, c, pa, "create", lc)), 0, "")
		})
	}
}

// A replace without a password keeps the one kept; with one, replaces it.
func TestAdmitReplace(t *testing.T) {
	m, c := module(t)
	ctx := context.Background()
	admit := func(verb string, outs ...logagentv1.LogOutput) *logagentv1.LogCollector {
		t.Helper()
		u := apigrouptest.Unstructured(t, body(prjA, "r", "web", stdout, outs...))
		apigrouptest.CheckRefusal(t, m.Admit(ctx, &apigroup.Request{Principal: pa, Attributes: lcAttr(verb, prjA, "r"), Object: u}), 0, "")
		noPassword(t, u)
		return admitted(t, u, prjA)
	}
	password := func(key string) string {
		t.Helper()
		return string(secretOf(t, c, prjA, "r").Data[key])
	}
	secret := "logcollector-" + prjA + "-r"
	created := admit("create", withCreds(goodK, "u", "first", ""), withCreds(loki("l", "https://loki.example"), "u", "lokipw", ""))
	if err := c.Create(ctx, created); err != nil {
		t.Fatal(err)
	}

	kept := admit("update", withCreds(goodK, "u", "", secret), withCreds(loki("l", "https://loki.example"), "u", "", secret))
	if got := credentialsOf(&kept.Spec.Outputs[0]).PasswordSecret; got != secret {
		t.Errorf("a replace without a password: passwordSecret %q, want %q", got, secret)
	}
	if password("k") != "first" || password("l") != "lokipw" {
		t.Errorf("a replace without a password changed the kept ones: %q %q", password("k"), password("l"))
	}
	apigrouptest.CheckRefusal(t, m.Validate(ctx, validateRequest(t, m, c, pa, "update", kept)), 0, "")

	changed := admit("update", withCreds(goodK, "u", "second", secret), withCreds(loki("l", "https://loki.example"), "u", "", secret))
	if got := credentialsOf(&changed.Spec.Outputs[0]).PasswordSecret; got != secret {
		t.Errorf("a replace with a password: passwordSecret %q, want %q", got, secret)
	}
	if password("k") != "second" || password("l") != "lokipw" {
		t.Errorf("a replace with a new kafka password: kept %q %q, want second and lokipw", password("k"), password("l"))
	}
	apigrouptest.CheckRefusal(t, m.Validate(ctx, validateRequest(t, m, c, pa, "update", changed)), 0, "")
}

// Patches and deletes come without a body: nothing to admit.
func TestAdmitOther(t *testing.T) {
	m, _ := module(t)
	for _, v := range []string{"patch", "delete", "deletecollection"} {
		apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: pa, Attributes: lcAttr(v, prjA, "r")}), 0, "")
	}
}

func TestValidate(t *testing.T) {
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	linkLocal := netip.MustParsePrefix("169.254.0.0/16")
	named := func(lc *logagentv1.LogCollector, f func(*logagentv1.LogCollector)) *logagentv1.LogCollector {
		f(lc)
		return lc
	}
	both := goodK
	both.Elasticsearch = &logagentv1.ElasticsearchOutput{Addresses: []string{"https://es.example"}, Index: "logs"}
	mistyped := es("e", "https://es.example")
	mistyped.Type = "kafka"
	lokiAsES := loki("l", "https://loki.example")
	lokiAsES.Type = "elasticsearch"
	noTopic := goodK
	noTopic.Kafka = &logagentv1.KafkaOutput{Brokers: []string{"kafka.example:9092"}}
	for _, tc := range []struct {
		name   string
		p      *directory.Principal
		obj    *logagentv1.LogCollector
		stored *logagentv1.LogCollector // an update of it when set
		allow  []netip.Prefix
		code   int
		msg    string
	}{
		{"project admin, their namespace", pa, rule(prjA, "r", "cls-a", "web", stdout, goodK), nil, nil, 0, ""},
		{"administrator, a project's namespace", admin, rule(prjA, "r", "cls-a", "web", stdout, goodK), nil, nil, 0, ""},

		// The cluster.
		{"cluster of another tenant", admin, rule(prjA, "r", "cls-o", "web", stdout, goodK), nil, nil, http.StatusUnprocessableEntity, `spec.clusterName: no cluster "cls-o"`},
		{"cluster of another tenant, by a tenant user", pa, rule(prjA, "r", "cls-o", "web", stdout, goodK), nil, nil, http.StatusUnprocessableEntity, `spec.clusterName: no cluster "cls-o"`},
		{"no such cluster", pa, rule(prjA, "r", "cls-x", "web", stdout, goodK), nil, nil, http.StatusUnprocessableEntity, `spec.clusterName: no cluster "cls-x"`},
		// A namespace rule's cluster is its namespace's: the caller needs no
		// platform policy on it, but must be able to read the namespace's logs.
		{"caller holding nothing", nobody, rule(prjA, "r", "cls-a", "web", stdout, goodK), nil, nil, http.StatusForbidden,
			"spec.namespace: nobody may not read the logs of namespace web, so may not collect them"},

		// The namespace.
		{"namespace of another project", pa, rule(prjA, "r", "cls-a", "db", stdout, goodK), nil, nil, http.StatusUnprocessableEntity,
			"spec.namespace: db is not a namespace of project prj-aaaaaaaa in cluster cls-a"},
		{"namespace of another project, by an administrator", admin, rule(prjA, "r", "cls-a", "db", stdout, goodK), nil, nil, http.StatusUnprocessableEntity,
			"spec.namespace: db is not a namespace of project prj-aaaaaaaa"},
		{"namespace of no project", pa, rule(prjA, "r", "cls-a", "kube-system", stdout, goodK), nil, nil, http.StatusUnprocessableEntity,
			"spec.namespace: kube-system is not a namespace of project"},
		{"project named wrong", pa, named(rule(prjA, "r", "cls-a", "web", stdout, goodK), func(lc *logagentv1.LogCollector) { lc.Spec.ProjectName = prjB }), nil, nil,
			http.StatusUnprocessableEntity, "spec.projectName: the rule lives in project prj-aaaaaaaa's namespace, not \"prj-bbbbbbbb\""},
		{"caller may not read the namespace's logs", seer, rule(prjA, "r", "cls-a", "web", stdout, goodK), nil, nil, http.StatusForbidden,
			"spec.namespace: seer may not read the logs of namespace web, so may not collect them"},

		// Workloads and files.
		{"a workload that does not exist yet", pa, rule(prjA, "r", "cls-a", "web", workloads("not-yet"), goodK), nil, nil, 0, ""},
		{"a workload with a bad name", pa, rule(prjA, "r", "cls-a", "web", workloads("Not_A_Name"), goodK), nil, nil, http.StatusUnprocessableEntity,
			`spec.input.workloads[0].name "Not_A_Name"`},
		{"container file", pa, rule(prjA, "r", "cls-a", "web", containerFile("/app/logs/**/*.log"), goodK), nil, nil, 0, ""},
		{"container file, relative", pa, rule(prjA, "r", "cls-a", "web", containerFile("app/x.log"), goodK), nil, nil, http.StatusUnprocessableEntity,
			`spec.input.containerFiles[0].path: "app/x.log" must be an absolute, clean path`},
		{"container file with ..", pa, rule(prjA, "r", "cls-a", "web", containerFile("/app/../etc/shadow"), goodK), nil, nil, http.StatusUnprocessableEntity,
			`spec.input.containerFiles[0].path: "/app/../etc/shadow" must be an absolute, clean path without ".."`},
		{"container file, .. in a name", pa, rule(prjA, "r", "cls-a", "web", containerFile("/app/x..log"), goodK), nil, nil, http.StatusUnprocessableEntity,
			"must be an absolute, clean path"},
		{"container file, not clean", pa, rule(prjA, "r", "cls-a", "web", containerFile("/app//x.log"), goodK), nil, nil, http.StatusUnprocessableEntity,
			"must be an absolute, clean path"},
		{"container file, the root", pa, rule(prjA, "r", "cls-a", "web", containerFile("/"), goodK), nil, nil, http.StatusUnprocessableEntity,
			"is outside /"},
		{"container file without its container", pa, named(rule(prjA, "r", "cls-a", "web", containerFile("/app/x.log"), goodK), func(lc *logagentv1.LogCollector) {
			lc.Spec.Input.ContainerFiles[0].Container = ""
		}), nil, nil, http.StatusUnprocessableEntity, "spec.input.containerFiles[0]: name the workload and the container"},
		{"stdout with container files", pa, named(rule(prjA, "r", "cls-a", "web", containerFile("/app/x.log"), goodK), func(lc *logagentv1.LogCollector) {
			lc.Spec.Input.Type = logagentv1.InputStdout
		}), nil, nil, http.StatusUnprocessableEntity, "a ContainerStdout rule takes workloads only"},
		{"unknown input type", pa, named(rule(prjA, "r", "cls-a", "web", stdout, goodK), func(lc *logagentv1.LogCollector) {
			lc.Spec.Input.Type = "Journal"
		}), nil, nil, http.StatusUnprocessableEntity, `spec.input.type "Journal"`},
		{"host files", admin, rule(sysNS, "r", "cls-a", "", hostFiles("/var/log/*.log", "/var/log/nginx/**"), goodK), nil, nil, 0, ""},
		{"host file outside /var/log", admin, rule(sysNS, "r", "cls-a", "", hostFiles("/etc/shadow"), goodK), nil, nil, http.StatusUnprocessableEntity,
			`spec.input.hostFiles[0]: "/etc/shadow" is outside /var/log/`},
		{"host file next to /var/log", admin, rule(sysNS, "r", "cls-a", "", hostFiles("/var/logs/x.log"), goodK), nil, nil, http.StatusUnprocessableEntity,
			"is outside /var/log/"},
		{"host file /var/log itself", admin, rule(sysNS, "r", "cls-a", "", hostFiles("/var/log"), goodK), nil, nil, http.StatusUnprocessableEntity,
			"is outside /var/log/"},
		{"host file climbing out", admin, rule(sysNS, "r", "cls-a", "", hostFiles("/var/log/*.log", "/var/log/../../etc/shadow"), goodK), nil, nil,
			http.StatusUnprocessableEntity, `spec.input.hostFiles[1]: "/var/log/../../etc/shadow" must be an absolute, clean path`},
		{"host files in a stdout rule", admin, named(rule(sysNS, "r", "cls-a", "", hostFiles("/var/log/x.log"), goodK), func(lc *logagentv1.LogCollector) {
			lc.Spec.Input.Type = logagentv1.InputStdout
		}), nil, nil, http.StatusUnprocessableEntity, "a ContainerStdout rule takes workloads only"},

		// Cluster rules are the administrators'.
		{"host files by a project admin", pa, rule(prjA, "r", "cls-a", "web", hostFiles("/var/log/*.log"), goodK), nil, nil, http.StatusForbidden,
			"is for platform administrators only"},
		{"host files by a project admin in the system namespace", pa, rule(sysNS, "r", "cls-a", "", hostFiles("/var/log/*.log"), goodK), nil, nil, http.StatusForbidden,
			"is for platform administrators only"},
		{"host files by a user who may get the cluster", seer, rule(sysNS, "r", "cls-a", "", hostFiles("/var/log/*.log"), goodK), nil, nil, http.StatusForbidden,
			"is for platform administrators only"},
		{"every namespace by a user who may get the cluster", seer, rule(sysNS, "r", "cls-a", "", stdout, goodK), nil, nil, http.StatusForbidden,
			"is for platform administrators only"},
		{"every namespace by a project admin", pa, rule(prjA, "r", "cls-a", "", stdout, goodK), nil, nil, http.StatusForbidden,
			"is for platform administrators only"},
		{"every namespace by an administrator", admin, rule(sysNS, "r", "cls-a", "", stdout, goodK), nil, nil, 0, ""},
		{"every namespace by an administrator, in a project", admin, rule(prjA, "r", "cls-a", "", stdout, goodK), nil, nil, http.StatusUnprocessableEntity,
			"a cluster rule lives in namespace kstack-system, not prj-aaaaaaaa"},
		{"host files by an administrator, in a project", admin, rule(prjA, "r", "cls-a", "web", hostFiles("/var/log/*.log"), goodK), nil, nil, http.StatusUnprocessableEntity,
			"a cluster rule lives in namespace kstack-system"},
		// Workloads live in a namespace: a rule of every namespace cannot name them.
		{"workloads in every namespace", admin, rule(sysNS, "r", "cls-a", "", workloads("api"), goodK), nil, nil, http.StatusUnprocessableEntity,
			"spec.namespace"},
		{"container files in every namespace", admin, rule(sysNS, "r", "cls-a", "", containerFile("/app/x.log"), goodK), nil, nil, http.StatusUnprocessableEntity,
			"spec.namespace"},

		// Outputs.
		{"no outputs", pa, rule(prjA, "r", "cls-a", "web", stdout), nil, nil, http.StatusUnprocessableEntity, "spec.outputs: give at least one output"},
		{"two fields", pa, rule(prjA, "r", "cls-a", "web", stdout, both), nil, nil, http.StatusUnprocessableEntity,
			"spec.outputs[0]: set exactly the field of its type (kafka)"},
		{"no field", pa, rule(prjA, "r", "cls-a", "web", stdout, logagentv1.LogOutput{Name: "k", Type: "kafka"}), nil, nil, http.StatusUnprocessableEntity,
			"spec.outputs[0]: set exactly the field of its type"},
		{"field of another type", pa, rule(prjA, "r", "cls-a", "web", stdout, goodK, mistyped), nil, nil, http.StatusUnprocessableEntity,
			`spec.outputs[1]: type "kafka" does not match the field set`},
		{"loki field, elasticsearch type", pa, rule(prjA, "r", "cls-a", "web", stdout, lokiAsES), nil, nil, http.StatusUnprocessableEntity,
			`spec.outputs[0]: type "elasticsearch" does not match the field set`},
		{"name used twice", pa, rule(prjA, "r", "cls-a", "web", stdout, goodK, loki("k", "https://loki.example")), nil, nil, http.StatusUnprocessableEntity,
			`spec.outputs[1].name "k" is used twice`},
		{"kafka without a topic", pa, rule(prjA, "r", "cls-a", "web", stdout, noTopic), nil, nil, http.StatusUnprocessableEntity,
			"spec.outputs[0].kafka.topic: name the topic"},
		{"every type", pa, rule(prjA, "r", "cls-a", "web", stdout, goodK, es("e", "https://es.example:9200", "http://198.18.0.20:9200"), loki("l", "https://loki.example")),
			nil, nil, 0, ""},
		{"loopback broker", pa, rule(prjA, "r", "cls-a", "web", stdout, kafka("k", "kafka.example:9092", "127.0.0.1:9092")), nil, nil, http.StatusUnprocessableEntity,
			"spec.outputs[0].kafka.brokers[1]: 127.0.0.1 (127.0.0.1) is a loopback address"},
		{"broker named localhost", pa, rule(prjA, "r", "cls-a", "web", stdout, kafka("k", "localhost:9092")), nil, nil, http.StatusUnprocessableEntity,
			"spec.outputs[0].kafka.brokers[0]: localhost"},
		{"broker without a port", pa, rule(prjA, "r", "cls-a", "web", stdout, kafka("k", "kafka.example")), nil, nil, http.StatusUnprocessableEntity,
			`spec.outputs[0].kafka.brokers[0]: "kafka.example" is not HOST:PORT`},
		{"link-local elasticsearch", pa, rule(prjA, "r", "cls-a", "web", stdout, goodK, es("e", "http://169.254.169.254/")), nil, nil, http.StatusUnprocessableEntity,
			"spec.outputs[1].elasticsearch.addresses[0]: 169.254.169.254 (169.254.169.254) is a link-local address"},
		{"elasticsearch named to link-local", pa, rule(prjA, "r", "cls-a", "web", stdout, es("e", "https://es.example", "http://sneaky.example:9200")), nil, nil,
			http.StatusUnprocessableEntity, "spec.outputs[0].elasticsearch.addresses[1]: sneaky.example (169.254.169.254) is a link-local address"},
		{"loopback loki", pa, rule(prjA, "r", "cls-a", "web", stdout, loki("l", "http://[::1]:3100")), nil, nil, http.StatusUnprocessableEntity,
			"spec.outputs[0].loki.url: ::1"},
		{"loki not http", pa, rule(prjA, "r", "cls-a", "web", stdout, loki("l", "ftp://loki.example")), nil, nil, http.StatusUnprocessableEntity,
			`spec.outputs[0].loki.url: "ftp://loki.example" is not an http or https URL`},
		{"loopback allowed", pa, rule(prjA, "r", "cls-a", "web", stdout, kafka("k", "127.0.0.1:9092"), loki("l", "http://localhost:3100")), nil,
			[]netip.Prefix{loopback}, 0, ""},
		{"link-local allowed", pa, rule(prjA, "r", "cls-a", "web", stdout, es("e", "http://sneaky.example:9200")), nil, []netip.Prefix{linkLocal}, 0, ""},
		{"loopback not in what is allowed", pa, rule(prjA, "r", "cls-a", "web", stdout, kafka("k", "127.0.0.1:9092")), nil, []netip.Prefix{linkLocal},
			http.StatusUnprocessableEntity, "--dial-allow"},

		// Passwords are never stored.
		{"a password patched in", admin, rule(prjA, "r", "cls-a", "web", stdout, withCreds(goodK, "u", "pw", "")),
			rule(prjA, "r", "cls-a", "web", stdout, goodK), nil, http.StatusUnprocessableEntity,
			"spec.outputs[0]: a password is sent with a create or a replace (PUT) of the whole rule, never in a patch"},
		{"a password in a create", pa, rule(prjA, "r", "cls-a", "web", stdout, goodK, withCreds(loki("l", "https://loki.example"), "u", "pw", "")), nil, nil,
			http.StatusUnprocessableEntity, "spec.outputs[1]: a password is sent with a create or a replace"},
		{"the rule's own password Secret", pa, rule(prjA, "r", "cls-a", "web", stdout, withCreds(goodK, "u", "", "logcollector-"+prjA+"-r")), nil, nil, 0, ""},
		{"another rule's password Secret", pa, rule(prjA, "r", "cls-a", "web", stdout, withCreds(goodK, "u", "", "logcollector-"+prjB+"-theirs")), nil, nil,
			http.StatusUnprocessableEntity, "spec.outputs[0]"},
		{"another Secret of the platform", admin, rule(sysNS, "r", "cls-a", "", stdout, withCreds(goodK, "u", "", "kstack-ca")), nil, nil,
			http.StatusUnprocessableEntity, "spec.outputs[0]"},
		{"update keeping the reference", pa, rule(prjA, "r", "cls-a", "web", stdout, withCreds(goodK, "u", "", "logcollector-"+prjA+"-r")),
			rule(prjA, "r", "cls-a", "web", stdout, withCreds(goodK, "u", "", "logcollector-"+prjA+"-r")), nil, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t, tc.allow...)
			verb := "create"
			if tc.stored != nil {
				if err := c.Create(context.Background(), tc.stored); err != nil {
					t.Fatal(err)
				}
				verb = "update"
			}
			r := validateRequest(t, m, c, tc.p, verb, tc.obj)
			before := r.Object.DeepCopy()
			err := m.Validate(context.Background(), r)
			apigrouptest.CheckRefusal(t, err, tc.code, tc.msg)
			if strings.Contains(tc.msg, "address") && !strings.Contains(err.Error(), "--dial-allow") {
				t.Errorf("%v: the refusal does not say how to allow the address (--dial-allow)", err)
			}
			if !equality.Semantic.DeepEqual(before.Object, r.Object.Object) {
				t.Errorf("Validate changed the object:\n%v\nto\n%v", before.Object, r.Object.Object)
			}
		})
	}
}

func TestRenderAgent(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		p          *directory.Principal
		code       int
		body       string
	}{
		{"administrator", "?image=registry.example/kstack:v1", admin, http.StatusOK, "registry.example/kstack:v1"},
		{"not an administrator", "?image=registry.example/kstack:v1", pa, http.StatusForbidden, "only platform administrators deploy it"},
		{"no image", "", admin, http.StatusBadRequest, "?image="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := module(t)
			for _, cluster := range []string{"cls-a", "cls-x"} {
				r := httptest.NewRequest(http.MethodGet, groupPath+"clusters/"+cluster+"/agent.yaml"+tc.path, nil)
				r.SetPathValue("cluster", cluster)
				w := httptest.NewRecorder()
				m.renderAgent(w, r, tc.p)
				code, want := tc.code, tc.body
				if cluster == "cls-x" && tc.p == admin {
					code, want = http.StatusNotFound, `no cluster \"cls-x\"`
				}
				if w.Code != code || !strings.Contains(w.Body.String(), want) {
					t.Errorf("%s: %d %s, want %d with %q", cluster, w.Code, w.Body.String(), code, want)
				}
				if code == http.StatusOK && !strings.Contains(w.Body.String(), "cls-a") {
					t.Errorf("the agent of cls-a does not name its cluster:\n%s", w.Body.String())
				}
			}
		})
	}
	m, _ := module(t)
	var routes []string
	for _, rt := range m.Routes() {
		routes = append(routes, rt.Pattern)
	}
	if len(routes) != 1 || routes[0] != "GET /logagent/apis/logagent.tkestack.io/v1/clusters/{cluster}/agent.yaml" {
		t.Errorf("routes %v", routes)
	}
}
