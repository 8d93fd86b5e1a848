package console

import (
	"fmt"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	tappv1 "github.com/kstack/kstack/addonapi/apps/v1"
	extv1 "github.com/kstack/kstack/addonapi/extensions/v1"
)

// tappPost is the workload form of a TApp shop of 3 instances.
func tappPost() map[string][]string {
	return map[string][]string{"kind": {"tapps"}, "name": {"shop"}, "replicas": {"3"}, "replicaMode": {"manual"},
		"c0.image": {"nginx:1.27"}, "c0.cpuRequest": {"100m"}, "c0.memRequest": {"128Mi"}, "c0.ports": {"80"},
		"serviceType": {"ClusterIP"}, "servicePorts": {"80:80"}, "restartPolicy": {"OnFailure"}}
}

func TestWorkloadFormBuildsTApp(t *testing.T) {
	f := formOf(map[string]string{"kind": "tapps", "name": "shop", "replicas": "3", "labels": "tier=front",
		"c0.image": "nginx:1.27", "c0.cpuRequest": "100m", "c0.env": "MODE=fast"})
	obj, svc := f.build("web")
	if f.hasErrors() {
		t.Fatalf("errors: %+v %+v", f.Errors, f.Containers[0].Errors)
	}
	ta, ok := obj.(*tappv1.TApp)
	if !ok || svc != nil {
		t.Fatalf("built %T and %v", obj, svc)
	}
	if ta.APIVersion != "apps.tkestack.io/v1" || ta.Kind != "TApp" || ta.Name != "shop" || ta.Namespace != "web" || ta.Labels["tier"] != "front" {
		t.Fatalf("TApp %+v", ta.TypeMeta)
	}
	spec := ta.Spec
	if spec.Replicas != 3 || spec.Selector.MatchLabels["app"] != "shop" || spec.Template.Labels["app"] != "shop" || spec.Template.Labels["tier"] != "front" {
		t.Fatalf("spec %+v", spec)
	}
	if len(spec.TemplatePool) != 0 || len(spec.Templates) != 0 || len(spec.Statuses) != 0 {
		t.Fatalf("a new TApp runs every instance on its template: %+v", spec)
	}
	c := spec.Template.Spec.Containers
	if len(c) != 1 || c[0].Name != "shop" || c[0].Image != "nginx:1.27" || c[0].Resources.Requests.Cpu().String() != "100m" || c[0].Env[0].Value != "fast" {
		t.Fatalf("containers %+v", c)
	}

	// Its replicas are checked as a Deployment's.
	f = formOf(map[string]string{"kind": "tapps", "name": "shop", "replicas": "many", "c0.image": "nginx"})
	f.build("web")
	if f.Errors["replicas"] == "" {
		t.Errorf("replicas %q accepted", "many")
	}
}

// A TApp made from the form: a dry run of it and its Service first, then
// both, through the member's API as the user; the page is the TApp's.
func TestWorkloadFormCreatesTApp(t *testing.T) {
	s, f := cronServer(t)
	w := do(s, "POST", "/console/business/cls-a/web/new", tappPost(), true)
	if loc := w.Header().Get("HX-Redirect"); loc != "/console/business/cls-a/web/tapps/shop?notice=Created+shop" {
		t.Fatalf("redirect %q: %d %s", loc, w.Code, w.Body.String())
	}
	want := []string{"POST " + tappsAPI + "?dryRun", "POST /api/v1/namespaces/web/services?dryRun", "POST " + tappsAPI, "POST /api/v1/namespaces/web/services"}
	if fmt.Sprint(f.reqs) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", f.reqs, want)
	}
	var got tappv1.TApp
	f.body(t, "POST "+tappsAPI, &got)
	if got.APIVersion != "apps.tkestack.io/v1" || got.Kind != "TApp" || got.Name != "shop" || got.Spec.Replicas != 3 ||
		len(got.Spec.Template.Spec.Containers) != 1 || got.Spec.Template.Spec.Containers[0].Image != "nginx:1.27" ||
		got.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort != 80 || got.Spec.Selector.MatchLabels["app"] != "shop" {
		t.Errorf("the TApp sent: %+v", got)
	}
}

// Scheduled replicas of a TApp: the CronHPA targets it through its own
// group (its scale subresource).
func TestWorkloadFormScheduledTApp(t *testing.T) {
	s, f := cronServer(t)
	form := tappPost()
	form["serviceType"] = []string{"None"}
	form["replicaMode"] = []string{"cron"}
	form["cron0.schedule"], form["cron0.replicas"] = []string{"0 22 29 2 *"}, []string{"2"}
	w := do(s, "POST", "/console/business/cls-a/web/new", form, true)
	if loc := w.Header().Get("HX-Redirect"); !strings.HasPrefix(loc, "/console/business/cls-a/web/tapps/shop?notice=Created+shop+and+its+CronHPA") {
		t.Fatalf("redirect %q: %d %s", loc, w.Code, w.Body.String())
	}
	if ws := fmt.Sprint(f.writes()); ws != fmt.Sprint([]string{"POST " + tappsAPI, "POST " + cronhpasPath}) {
		t.Errorf("writes %s", ws)
	}
	var hpa extv1.CronHPA
	f.body(t, "POST "+cronhpasPath, &hpa)
	if hpa.Spec.ScaleTargetRef != (autoscalingv2.CrossVersionObjectReference{APIVersion: "apps.tkestack.io/v1", Kind: "TApp", Name: "shop"}) {
		t.Errorf("the CronHPA's target: %+v", hpa.Spec.ScaleTargetRef)
	}
}

// Bad input is refused next to its field, and the member is not asked.
func TestWorkloadFormRefusesBadTApp(t *testing.T) {
	s, f := cronServer(t)
	for field, c := range map[string]struct {
		form map[string][]string
		want string
	}{
		"name":     {map[string][]string{"name": {"Shop_1"}}, `id="name" value="Shop_1" required aria-invalid="true"`},
		"image":    {map[string][]string{"c0.image": {"nginx 1.27"}}, `value="nginx 1.27" placeholder="nginx:1.27" aria-invalid="true"`},
		"replicas": {map[string][]string{"replicas": {"-1"}}, "replicas must be a whole number from 0 to 1000"},
	} {
		f.reqs = nil
		post := tappPost()
		for k, v := range c.form {
			post[k] = v
		}
		w := do(s, "POST", "/console/business/cls-a/web/new", post, true)
		body := w.Body.String()
		if w.Code != 200 || w.Header().Get("HX-Redirect") != "" {
			t.Fatalf("%s: %d %v", field, w.Code, w.Header())
		}
		mustContain(t, field, body, `id="form-error">Some fields need attention`, `<option value="tapps" selected>tapps</option>`, c.want)
		if len(f.reqs) != 0 {
			t.Errorf("%s: the member was asked: %v", field, f.reqs)
		}
	}
}

// A cluster without the TApp add-on: the form says so, with the way to
// install it; nothing is made (dry runs only).
func TestWorkloadFormTAppWithoutAddon(t *testing.T) {
	s, f := cronServer(t)
	f.noTApp = true
	w := do(s, "POST", "/console/business/cls-a/web/new", tappPost(), true)
	body := w.Body.String()
	if w.Code != 200 || w.Header().Get("HX-Redirect") != "" {
		t.Fatalf("%d %v %s", w.Code, w.Header(), body)
	}
	mustContain(t, "no TApp add-on", body, `id="form-error">the TApp add-on is not installed in cluster cls-a`, "Nothing was created.",
		`id="tapp-missing"`, `href="/console/platform/addons?cluster=cls-a" id="install-tapp"`, `<option value="tapps" selected>tapps</option>`,
		`id="name" value="shop"`)
	mustNotContain(t, "no TApp add-on", body, `id="cronhpa-missing"`)
	if ws := f.writes(); len(ws) != 0 {
		t.Errorf("created: %v", ws)
	}
	if fmt.Sprint(f.reqs) != fmt.Sprint([]string{"POST " + tappsAPI + "?dryRun"}) {
		t.Errorf("requests %v", f.reqs)
	}
	// The other kinds are still made.
	f.reqs = nil
	post := tappPost()
	post["kind"] = []string{"deployments"}
	post["serviceType"] = []string{"None"}
	w = do(s, "POST", "/console/business/cls-a/web/new", post, true)
	if w.Header().Get("HX-Redirect") == "" || fmt.Sprint(f.writes()) != "[POST /apis/apps/v1/namespaces/web/deployments]" {
		t.Errorf("a Deployment beside: %v %v", w.Header(), f.reqs)
	}
}

// The form offers TApp among the kinds, chosen when asked for (the TApps
// tab's "New TApp").
func TestWorkloadFormOffersTApp(t *testing.T) {
	s, _ := cronServer(t)
	w := do(s, "GET", "/console/business/cls-a/web/new?kind=tapps", nil, false)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	mustContain(t, "the form", body, `<option value="tapps" selected>tapps</option>`, `<option value="deployments" >deployments</option>`,
		`aria-current="page">TApps</a>`, "Replicas (Deployment, StatefulSet, TApp)")
}

// TApps are a workload kind of the namespace: their tab lists them, with
// their templates and images; a cluster without the add-on still has the
// page (TestTAppPages).
func TestTAppKind(t *testing.T) {
	k := kinds["tapps"]
	if k == nil || !k.Workload || !k.Namespaced || k.Kind != "TApp" || k.GVR.Group != "apps.tkestack.io" || k.GVR.Resource != "tapps" {
		t.Fatalf("kind %+v", k)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(storedTApp())
	if err != nil {
		t.Fatal(err)
	}
	cells := k.Cells(&unstructured.Unstructured{Object: m})
	var got []string
	for _, c := range cells[:4] {
		got = append(got, c.Text+"|"+c.Class)
	}
	if want := "[1/3| Running|Running default, v2| nginx:1.26|]"; fmt.Sprint(got) != want {
		t.Errorf("cells %v, want %s", got, want)
	}
	if firstKind(&unstructured.Unstructured{Object: map[string]any{"kind": "TApp"}}) != "tapps" {
		t.Error("a TApp created from YAML does not lead to the TApps tab")
	}

	s, _ := tappServer(t)
	w := do(s, "GET", tappsPath, nil, false)
	mustContain(t, "the list", w.Body.String(), `<tr id="tapp-shop">`, `<td>default, v2</td><td class="mono">nginx:1.26</td>`,
		`id="new-tapp" href="/console/business/cls-a/web/new?kind=tapps"`)
}
