package console

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/kstack/kstack/internal/publish"
)

type yamlData struct {
	NS    nsView
	YAML  string
	Error string
}

const yamlExample = `apiVersion: v1
kind: ConfigMap
metadata:
  name: example
data:
  greeting: hello
`

func (s *Server) yamlForm(w http.ResponseWriter, r *request) {
	r.page(w, "yaml", "business", "Create from YAML", yamlData{NS: r.nsView(""), YAML: yamlExample}, r.crumbs()...)
}

// createFromYAML creates every document in the namespace, or none: each is
// sent as a server-side dry run first, and the first refusal is shown
// under the editor, naming the document.
func (s *Server) createFromYAML(w http.ResponseWriter, r *request) {
	d := yamlData{NS: r.nsView(""), YAML: r.PostFormValue("yaml")}
	fail := func(msg string) {
		d.Error = msg
		r.fragment(w, http.StatusOK, "yaml", "form", d)
	}
	objs, err := publish.Decode([]byte(d.YAML))
	if err != nil {
		fail(err.Error())
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	cfg := r.s.MemberConfig(r.user, d.NS.Cluster)
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		fail(err.Error())
		return
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := r.dynamicMember(d.NS.Cluster)
	if err != nil {
		fail(err.Error())
		return
	}
	type target struct {
		obj *unstructured.Unstructured
		res interface {
			Create(context.Context, *unstructured.Unstructured, metav1.CreateOptions, ...string) (*unstructured.Unstructured, error)
		}
	}
	var targets []target
	for i, o := range objs {
		what := fmt.Sprintf("document %d (%s %s)", i+1, o.GetKind(), o.GetName())
		m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
		if err != nil {
			fail(fmt.Sprintf("%s: the cluster has no kind %s in %s", what, o.GetKind(), o.GetAPIVersion()))
			return
		}
		if m.Scope.Name() != meta.RESTScopeNameNamespace {
			fail(fmt.Sprintf("%s: %s is not a namespaced kind; the business console creates objects in namespace %s only", what, o.GetKind(), d.NS.Namespace))
			return
		}
		if ns := o.GetNamespace(); ns != "" && ns != d.NS.Namespace {
			fail(fmt.Sprintf("%s: it names namespace %s, but this is %s: remove metadata.namespace or change it", what, ns, d.NS.Namespace))
			return
		}
		o.SetNamespace(d.NS.Namespace)
		targets = append(targets, target{o, dyn.Resource(m.Resource).Namespace(d.NS.Namespace)})
	}
	for _, dry := range []bool{true, false} {
		opts := metav1.CreateOptions{FieldValidation: "Strict"}
		if dry {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		for i, t := range targets {
			if _, err := t.res.Create(ctx, t.obj.DeepCopy(), opts); err != nil {
				_, msg := explain(err)
				prefix := fmt.Sprintf("document %d (%s %s): ", i+1, t.obj.GetKind(), t.obj.GetName())
				if !dry {
					prefix = "created the documents before " + strings.TrimSuffix(prefix, ": ") + ", which failed: "
				}
				fail(prefix + msg)
				return
			}
		}
	}
	s.Log.Info("console created from YAML", "cluster", d.NS.Cluster, "namespace", d.NS.Namespace, "objects", len(targets), "by", r.user.Name())
	redirect(w, r.Request, d.NS.Base+"/"+firstKind(targets[0].obj)+"?notice="+fmt.Sprintf("Created+%d+object(s)", len(targets)))
}

// firstKind is the namespace tab to show after a create.
func firstKind(u *unstructured.Unstructured) string {
	for name, k := range kinds {
		if k.Kind == u.GetKind() && k.Namespaced {
			return name
		}
	}
	return "deployments"
}
