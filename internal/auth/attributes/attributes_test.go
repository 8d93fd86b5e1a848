package attributes

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kstack/kstack/internal/auth/policy"
)

func TestSingular(t *testing.T) {
	tests := map[string]string{
		"pods":                          "pod",
		"services":                      "service",
		"endpoints":                     "endpoint",
		"endpointslices":                "endpointslice",
		"ingresses":                     "ingress",
		"ingressclasses":                "ingressclass",
		"networkpolicies":               "networkpolicy",
		"storageclasses":                "storageclass",
		"priorityclasses":               "priorityclass",
		"statefulsets":                  "statefulset",
		"deployments":                   "deployment",
		"replicasets":                   "replicaset",
		"daemonsets":                    "daemonset",
		"cronjobs":                      "cronjob",
		"jobs":                          "job",
		"configmaps":                    "configmap",
		"secrets":                       "secret",
		"serviceaccounts":               "serviceaccount",
		"persistentvolumes":             "persistentvolume",
		"persistentvolumeclaims":        "persistentvolumeclaim",
		"customresourcedefinitions":     "customresourcedefinition",
		"leases":                        "lease",
		"events":                        "event",
		"nodes":                         "node",
		"namespaces":                    "namespace",
		"roles":                         "role",
		"clusterrolebindings":           "clusterrolebinding",
		"horizontalpodautoscalers":      "horizontalpodautoscaler",
		"poddisruptionbudgets":          "poddisruptionbudget",
		"resourcequotas":                "resourcequota",
		"limitranges":                   "limitrange",
		"mutatingwebhookconfigurations": "mutatingwebhookconfiguration",
		"validatingadmissionpolicies":   "validatingadmissionpolicy",
		"flowschemas":                   "flowschema",
		"certificatesigningrequests":    "certificatesigningrequest",
		"clusters":                      "cluster",
		"users":                         "user",
		"groups":                        "group",
		"apikeys":                       "apikey",
		"identityproviders":             "identityprovider",
		"policies":                      "policy",
		"policybindings":                "policybinding",
		"localidentities":               "localidentity",
		"boxes":                         "box",
		"patches":                       "patch",
		"meshes":                        "mesh",
		// Singular already.
		"pod":      "pod",
		"ingress":  "ingress",
		"class":    "class",
		"endpoint": "endpoint",
		"policy":   "policy",
		"":         "",
	}
	for plural, want := range tests {
		if got := Singular(plural); got != want {
			t.Errorf("Singular(%q) = %q, want %q", plural, got, want)
		}
	}
}

type want struct {
	action, resource string
	readOnly         bool
}

func TestMember(t *testing.T) {
	tests := []struct {
		name                string
		method, path, query string
		want                want
	}{
		// Core namespaced kinds.
		{"get pod", "GET", "/api/v1/namespaces/default/pods/web", "", want{"getPod", "cluster:c/namespace:default/pod:web", true}},
		{"head pod", "HEAD", "/api/v1/namespaces/default/pods/web", "", want{"getPod", "cluster:c/namespace:default/pod:web", true}},
		{"list pods", "GET", "/api/v1/namespaces/default/pods", "", want{"listPod", "cluster:c/namespace:default/pod:*", true}},
		{"list pods trailing slash", "GET", "/api/v1/namespaces/default/pods/", "", want{"listPod", "cluster:c/namespace:default/pod:*", true}},
		{"list pods with selector", "GET", "/api/v1/namespaces/default/pods", "labelSelector=app%3Dweb&limit=500", want{"listPod", "cluster:c/namespace:default/pod:*", true}},
		{"list pod by name", "GET", "/api/v1/namespaces/default/pods", "fieldSelector=metadata.name%3Dweb", want{"listPod", "cluster:c/namespace:default/pod:web", true}},
		{"watch pods", "GET", "/api/v1/namespaces/default/pods", "watch=true&resourceVersion=10", want{"watchPod", "cluster:c/namespace:default/pod:*", true}},
		{"watch=1", "GET", "/api/v1/namespaces/default/pods", "watch=1", want{"watchPod", "cluster:c/namespace:default/pod:*", true}},
		{"watch=false lists", "GET", "/api/v1/namespaces/default/pods", "watch=false", want{"listPod", "cluster:c/namespace:default/pod:*", true}},
		{"watch one pod", "GET", "/api/v1/namespaces/default/pods", "watch=true&fieldSelector=metadata.name%3Dweb", want{"watchPod", "cluster:c/namespace:default/pod:web", true}},
		{"watch via path", "GET", "/api/v1/watch/namespaces/default/pods", "", want{"watchPod", "cluster:c/namespace:default/pod:*", true}},
		{"watch one via path", "GET", "/api/v1/watch/namespaces/default/pods/web", "", want{"watchPod", "cluster:c/namespace:default/pod:web", true}},
		{"create pod", "POST", "/api/v1/namespaces/default/pods", "", want{"createPod", "cluster:c/namespace:default/pod:*", false}},
		{"update pod", "PUT", "/api/v1/namespaces/default/pods/web", "", want{"updatePod", "cluster:c/namespace:default/pod:web", false}},
		{"patch pod", "PATCH", "/api/v1/namespaces/default/pods/web", "", want{"patchPod", "cluster:c/namespace:default/pod:web", false}},
		{"delete pod", "DELETE", "/api/v1/namespaces/default/pods/web", "", want{"deletePod", "cluster:c/namespace:default/pod:web", false}},
		{"delete pods", "DELETE", "/api/v1/namespaces/default/pods", "", want{"deletecollectionPod", "cluster:c/namespace:default/pod:*", false}},
		{"get secret", "GET", "/api/v1/namespaces/kube-system/secrets/token", "", want{"getSecret", "cluster:c/namespace:kube-system/secret:token", true}},
		{"get endpoints", "GET", "/api/v1/namespaces/default/endpoints/kubernetes", "", want{"getEndpoint", "cluster:c/namespace:default/endpoint:kubernetes", true}},
		{"list services", "GET", "/api/v1/namespaces/default/services", "", want{"listService", "cluster:c/namespace:default/service:*", true}},
		{"event with dots", "GET", "/api/v1/namespaces/default/events/web.17a2b3c4d5e6f7a8", "", want{"getEvent", "cluster:c/namespace:default/event:web.17a2b3c4d5e6f7a8", true}},

		// Pod subresources.
		{"logs", "GET", "/api/v1/namespaces/default/pods/web/log", "container=app&follow=true", want{"getPodLog", "cluster:c/namespace:default/pod:web/log", true}},
		{"exec via GET (websocket)", "GET", "/api/v1/namespaces/default/pods/web/exec", "command=sh&stdin=true&tty=true", want{"createPodExec", "cluster:c/namespace:default/pod:web/exec", false}},
		{"exec via POST", "POST", "/api/v1/namespaces/default/pods/web/exec", "command=ls", want{"createPodExec", "cluster:c/namespace:default/pod:web/exec", false}},
		{"attach via GET", "GET", "/api/v1/namespaces/default/pods/web/attach", "", want{"createPodAttach", "cluster:c/namespace:default/pod:web/attach", false}},
		{"attach via POST", "POST", "/api/v1/namespaces/default/pods/web/attach", "", want{"createPodAttach", "cluster:c/namespace:default/pod:web/attach", false}},
		{"portforward via GET", "GET", "/api/v1/namespaces/default/pods/web/portforward", "ports=8080", want{"createPodPortforward", "cluster:c/namespace:default/pod:web/portforward", false}},
		{"portforward via POST", "POST", "/api/v1/namespaces/default/pods/web/portforward", "", want{"createPodPortforward", "cluster:c/namespace:default/pod:web/portforward", false}},
		{"pod status", "GET", "/api/v1/namespaces/default/pods/web/status", "", want{"getPodStatus", "cluster:c/namespace:default/pod:web/status", true}},
		{"update pod status", "PUT", "/api/v1/namespaces/default/pods/web/status", "", want{"updatePodStatus", "cluster:c/namespace:default/pod:web/status", false}},
		{"evict", "POST", "/api/v1/namespaces/default/pods/web/eviction", "", want{"createPodEviction", "cluster:c/namespace:default/pod:web/eviction", false}},
		{"ephemeral containers", "PATCH", "/api/v1/namespaces/default/pods/web/ephemeralcontainers", "", want{"patchPodEphemeralcontainers", "cluster:c/namespace:default/pod:web/ephemeralcontainers", false}},
		{"pod proxy", "GET", "/api/v1/namespaces/default/pods/web/proxy/metrics", "", want{"getPodProxy", "cluster:c/namespace:default/pod:web/proxy", true}},
		{"service proxy", "GET", "/api/v1/namespaces/default/services/web/proxy/metrics", "", want{"getServiceProxy", "cluster:c/namespace:default/service:web/proxy", true}},

		// Apps and other groups.
		{"get deployment", "GET", "/apis/apps/v1/namespaces/default/deployments/web", "", want{"getDeployment", "cluster:c/namespace:default/deployment:web", true}},
		{"list deployments", "GET", "/apis/apps/v1/namespaces/default/deployments", "", want{"listDeployment", "cluster:c/namespace:default/deployment:*", true}},
		{"get scale", "GET", "/apis/apps/v1/namespaces/default/deployments/web/scale", "", want{"getDeploymentScale", "cluster:c/namespace:default/deployment:web/scale", true}},
		{"update scale", "PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale", "", want{"updateDeploymentScale", "cluster:c/namespace:default/deployment:web/scale", false}},
		{"patch statefulset status", "PATCH", "/apis/apps/v1/namespaces/db/statefulsets/pg/status", "", want{"patchStatefulsetStatus", "cluster:c/namespace:db/statefulset:pg/status", false}},
		{"cronjob", "POST", "/apis/batch/v1/namespaces/default/cronjobs", "", want{"createCronjob", "cluster:c/namespace:default/cronjob:*", false}},
		{"ingress", "GET", "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web", "", want{"getIngress", "cluster:c/namespace:default/ingress:web", true}},
		{"network policy", "DELETE", "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/deny-all", "", want{"deleteNetworkpolicy", "cluster:c/namespace:default/networkpolicy:deny-all", false}},
		{"lease", "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler", "", want{"updateLease", "cluster:c/namespace:kube-system/lease:kube-scheduler", false}},

		// Across all namespaces.
		{"all pods", "GET", "/api/v1/pods", "", want{"listPod", "cluster:c/namespace:*/pod:*", true}},
		{"watch all pods", "GET", "/api/v1/pods", "watch=true", want{"watchPod", "cluster:c/namespace:*/pod:*", true}},
		{"watch all pods via path", "GET", "/api/v1/watch/pods", "", want{"watchPod", "cluster:c/namespace:*/pod:*", true}},
		{"all deployments", "GET", "/apis/apps/v1/deployments", "", want{"listDeployment", "cluster:c/namespace:*/deployment:*", true}},
		{"all secrets", "GET", "/api/v1/secrets", "", want{"listSecret", "cluster:c/namespace:*/secret:*", true}},

		// Cluster-scoped kinds.
		{"get node", "GET", "/api/v1/nodes/n1", "", want{"getNode", "cluster:c/node:n1", true}},
		{"list nodes", "GET", "/api/v1/nodes", "", want{"listNode", "cluster:c/node:*", true}},
		{"watch nodes", "GET", "/api/v1/nodes", "watch=true", want{"watchNode", "cluster:c/node:*", true}},
		{"node status", "PATCH", "/api/v1/nodes/n1/status", "", want{"patchNodeStatus", "cluster:c/node:n1/status", false}},
		{"node proxy", "GET", "/api/v1/nodes/n1/proxy/metrics", "", want{"getNodeProxy", "cluster:c/node:n1/proxy", true}},
		{"persistent volume", "DELETE", "/api/v1/persistentvolumes/pv-1", "", want{"deletePersistentvolume", "cluster:c/persistentvolume:pv-1", false}},
		{"storage class", "GET", "/apis/storage.k8s.io/v1/storageclasses/standard", "", want{"getStorageclass", "cluster:c/storageclass:standard", true}},
		{"ingress class", "GET", "/apis/networking.k8s.io/v1/ingressclasses", "", want{"listIngressclass", "cluster:c/ingressclass:*", true}},
		{"cluster role", "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", "", want{"getClusterrole", "cluster:c/clusterrole:admin", true}},
		{"role is namespaced", "GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/n/roles/r", "", want{"getRole", "cluster:c/namespace:n/role:r", true}},
		{"crd", "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", "", want{"getCustomresourcedefinition", "cluster:c/customresourcedefinition:widgets.example.com", true}},
		{"self access review", "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "", want{"createSelfsubjectaccessreview", "cluster:c/selfsubjectaccessreview:*", false}},
		{"local access review is namespaced", "POST", "/apis/authorization.k8s.io/v1/namespaces/n/localsubjectaccessreviews", "", want{"createLocalsubjectaccessreview", "cluster:c/namespace:n/localsubjectaccessreview:*", false}},
		{"node metrics", "GET", "/apis/metrics.k8s.io/v1beta1/nodes", "", want{"listNode", "cluster:c/node:*", true}},
		{"pod metrics", "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/n/pods", "", want{"listPod", "cluster:c/namespace:n/pod:*", true}},

		// The namespace object is the namespace itself.
		{"get namespace", "GET", "/api/v1/namespaces/default", "", want{"getNamespace", "cluster:c/namespace:default", true}},
		{"list namespaces", "GET", "/api/v1/namespaces", "", want{"listNamespace", "cluster:c/namespace:*", true}},
		{"watch namespaces", "GET", "/api/v1/namespaces", "watch=true", want{"watchNamespace", "cluster:c/namespace:*", true}},
		{"create namespace", "POST", "/api/v1/namespaces", "", want{"createNamespace", "cluster:c/namespace:*", false}},
		{"delete namespace", "DELETE", "/api/v1/namespaces/dev", "", want{"deleteNamespace", "cluster:c/namespace:dev", false}},
		{"namespace status", "PUT", "/api/v1/namespaces/dev/status", "", want{"updateNamespaceStatus", "cluster:c/namespace:dev/status", false}},
		{"namespace finalize", "PUT", "/api/v1/namespaces/dev/finalize", "", want{"updateNamespaceFinalize", "cluster:c/namespace:dev/finalize", false}},

		// Custom resources.
		{"namespaced CR", "GET", "/apis/example.com/v1/namespaces/default/widgets/w1", "", want{"getWidget", "cluster:c/namespace:default/widget:w1", true}},
		{"namespaced CR list", "GET", "/apis/example.com/v1/namespaces/default/widgets", "", want{"listWidget", "cluster:c/namespace:default/widget:*", true}},
		{"CR status", "PUT", "/apis/example.com/v1/namespaces/default/widgets/w1/status", "", want{"updateWidgetStatus", "cluster:c/namespace:default/widget:w1/status", false}},
		{"CR scale", "PATCH", "/apis/example.com/v1/namespaces/default/widgets/w1/scale", "", want{"patchWidgetScale", "cluster:c/namespace:default/widget:w1/scale", false}},
		{"CR across namespaces", "GET", "/apis/example.com/v1/widgets", "", want{"listWidget", "cluster:c/namespace:*/widget:*", true}},
		{"cluster-scoped CR taken as all namespaces", "GET", "/apis/example.com/v1/globalwidgets/g1", "", want{"getGlobalwidget", "cluster:c/namespace:*/globalwidget:g1", true}},
		{"CR with ies plural", "DELETE", "/apis/policy.example.com/v1alpha1/namespaces/n/accesspolicies/p", "", want{"deleteAccesspolicy", "cluster:c/namespace:n/accesspolicy:p", false}},
		{"CR group named like a core kind", "GET", "/apis/pods.example.com/v1/namespaces/n/pods/x", "", want{"getPod", "cluster:c/namespace:n/pod:x", true}},
		{"namespaces in another group are not the namespace object", "GET", "/apis/example.com/v1/namespaces/n/namespaces/x", "", want{"getNamespace", "cluster:c/namespace:n/namespace:x", true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "https://gateway.example/clusters/c/proxy?"+tt.query, nil)
			a, err := Member("c", r, tt.path)
			if err != nil {
				t.Fatalf("Member(%s %s): %v", tt.method, tt.path, err)
			}
			got := want{a.Action, a.Resource, a.ReadOnly}
			if got != tt.want {
				t.Errorf("Member(%s %s?%s)\n got %+v\nwant %+v", tt.method, tt.path, tt.query, got, tt.want)
			}
			if a.NonResource {
				t.Error("NonResource set on a resource request")
			}
			// Every action and resource made here must be one that a
			// policy can be written for.
			st := policy.Statement{Actions: []string{a.Action}, Resources: []string{a.Resource}, Effect: policy.Allow}
			if err := st.Validate(); err != nil {
				t.Errorf("a policy cannot name %q on %q: %v", a.Action, a.Resource, err)
			}
		})
	}
}

func TestProxyUpgradeIsCreate(t *testing.T) {
	for _, path := range []string{
		"/api/v1/nodes/n1/proxy/exec/default/web/app",
		"/api/v1/namespaces/default/pods/web/proxy/ws",
		"/api/v1/namespaces/default/services/web/proxy/ws",
	} {
		r := httptest.NewRequest(http.MethodGet, "/?command=sh", nil)
		r.Header.Set("Connection", "keep-alive, Upgrade")
		r.Header.Set("Upgrade", "websocket")
		a, err := Member("c", r, path)
		if err != nil {
			t.Fatalf("Member(GET %s): %v", path, err)
		}
		if a.Verb != "create" || a.ReadOnly || !strings.HasPrefix(a.Action, "create") || !strings.HasSuffix(a.Action, "Proxy") {
			t.Errorf("websocket GET %s = %s (ReadOnly=%v), want create...Proxy, not read-only", path, a.Action, a.ReadOnly)
		}
	}
	// An upgrade elsewhere keeps its verb.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Connection", "Upgrade")
	if a, err := Member("c", r, "/api/v1/namespaces/default/pods/web/log"); err != nil || a.Action != "getPodLog" {
		t.Errorf("websocket log = %+v, %v; want getPodLog", a, err)
	}
}

func TestMemberFields(t *testing.T) {
	tests := []struct {
		method, path, query string
		want                Attributes
	}{
		{"GET", "/apis/apps/v1/namespaces/default/deployments/web/scale", "", Attributes{
			Action: "getDeploymentScale", Resource: "cluster:c/namespace:default/deployment:web/scale",
			Verb: "get", APIGroup: "apps", Kind: "deployment", Plural: "deployments", Namespace: "default", Name: "web", Subresource: "scale", ReadOnly: true,
		}},
		{"GET", "/api/v1/pods", "watch=true", Attributes{
			Action: "watchPod", Resource: "cluster:c/namespace:*/pod:*",
			Verb: "watch", Kind: "pod", Plural: "pods", ReadOnly: true,
		}},
		{"GET", "/api/v1/namespaces/dev", "", Attributes{
			Action: "getNamespace", Resource: "cluster:c/namespace:dev",
			Verb: "get", Kind: "namespace", Plural: "namespaces", Namespace: "dev", Name: "dev", ReadOnly: true,
		}},
		{"GET", "/api/v1/namespaces/default/pods/web/exec", "command=sh", Attributes{
			Action: "createPodExec", Resource: "cluster:c/namespace:default/pod:web/exec",
			Verb: "create", Kind: "pod", Plural: "pods", Namespace: "default", Name: "web", Subresource: "exec",
		}},
		{"GET", "/version", "", Attributes{
			Action: "getNonResource", Resource: "cluster:c/url:/version", NonResource: true, Verb: "get", ReadOnly: true,
		}},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, "/?"+tt.query, nil)
		a, err := Member("c", r, tt.path)
		if err != nil {
			t.Errorf("Member(%s %s): %v", tt.method, tt.path, err)
			continue
		}
		if a != tt.want {
			t.Errorf("Member(%s %s?%s)\n got %+v\nwant %+v", tt.method, tt.path, tt.query, a, tt.want)
		}
	}
}

func TestMemberNonResource(t *testing.T) {
	tests := []struct {
		method, path string
		want         want
	}{
		{"GET", "/", want{"getNonResource", "cluster:c/url:/", true}},
		{"GET", "/api", want{"getNonResource", "cluster:c/url:/api", true}},
		{"GET", "/api/v1", want{"getNonResource", "cluster:c/url:/api/v1", true}},
		{"GET", "/apis", want{"getNonResource", "cluster:c/url:/apis", true}},
		{"GET", "/apis/apps", want{"getNonResource", "cluster:c/url:/apis/apps", true}},
		{"GET", "/apis/apps/v1", want{"getNonResource", "cluster:c/url:/apis/apps/v1", true}},
		{"GET", "/apis/example.com/v1", want{"getNonResource", "cluster:c/url:/apis/example.com/v1", true}},
		{"GET", "/version", want{"getNonResource", "cluster:c/url:/version", true}},
		{"HEAD", "/version", want{"getNonResource", "cluster:c/url:/version", true}},
		{"GET", "/healthz", want{"getNonResource", "cluster:c/url:/healthz", true}},
		{"GET", "/readyz/etcd", want{"getNonResource", "cluster:c/url:/readyz/etcd", true}},
		{"GET", "/livez", want{"getNonResource", "cluster:c/url:/livez", true}},
		{"GET", "/metrics", want{"getNonResource", "cluster:c/url:/metrics", true}},
		{"GET", "/openapi/v2", want{"getNonResource", "cluster:c/url:/openapi/v2", true}},
		{"GET", "/openapi/v3", want{"getNonResource", "cluster:c/url:/openapi/v3", true}},
		{"GET", "/openapi/v3/apis/apps/v1", want{"getNonResource", "cluster:c/url:/openapi/v3/apis/apps/v1", true}},
		{"POST", "/logs/kube-apiserver.log", want{"postNonResource", "cluster:c/url:/logs/kube-apiserver.log", false}},
		{"PUT", "/debug/flags/v", want{"putNonResource", "cluster:c/url:/debug/flags/v", false}},
		{"DELETE", "/something", want{"deleteNonResource", "cluster:c/url:/something", false}},
	}
	for _, tt := range tests {
		a, err := Member("c", httptest.NewRequest(tt.method, "/", nil), tt.path)
		if err != nil {
			t.Errorf("Member(%s %s): %v", tt.method, tt.path, err)
			continue
		}
		if got := (want{a.Action, a.Resource, a.ReadOnly}); got != tt.want || !a.NonResource {
			t.Errorf("Member(%s %s)\n got %+v (NonResource=%v)\nwant %+v", tt.method, tt.path, got, a.NonResource, tt.want)
		}
	}
}

func TestMemberErrors(t *testing.T) {
	tests := []struct {
		name, cluster, method, path, query string
		wantErr                            string
	}{
		{"name with colon", "c", "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:admin", "", `name "system:admin" cannot be used here`},
		{"name with star", "c", "GET", "/api/v1/namespaces/default/pods/*", "", `name "*" cannot be used here`},
		{"name with upper case", "c", "GET", "/api/v1/namespaces/default/pods/Web", "", `name "Web" cannot be used here`},
		{"name with port", "c", "GET", "/api/v1/namespaces/default/pods/web:8080/proxy/metrics", "", `name "web:8080"`},
		{"selector name with colon", "c", "GET", "/api/v1/namespaces/default/pods", "fieldSelector=metadata.name%3Da:b", `name "a:b"`},
		{"namespace with star", "c", "GET", "/api/v1/namespaces/*/pods", "", `namespace "*" is not valid`},
		{"namespace with colon", "c", "GET", "/api/v1/namespaces/a:b/pods", "", `namespace "a:b" is not valid`},
		{"namespace with dot", "c", "GET", "/api/v1/namespaces/a.b/pods", "", `namespace "a.b" is not valid`},
		{"namespace object with colon", "c", "GET", "/api/v1/namespaces/a:b", "", `namespace "a:b" is not valid`},
		{"resource with star", "c", "GET", "/api/v1/namespaces/n/*", "", `resource "*" is not valid`},
		{"resource with colon", "c", "GET", "/api/v1/namespaces/n/pod:x", "", `resource "pod:x" is not valid`},
		{"subresource with colon", "c", "GET", "/api/v1/namespaces/n/pods/p/a:b", "", `subresource "a:b" is not valid`},
		{"group with star", "c", "GET", "/apis/*/v1/widgets", "", `API group "*" is not valid`},
		{"empty segment", "c", "GET", "/api/v1/namespaces//pods", "", `empty segment`},
		{"dot-dot", "c", "GET", "/api/v1/namespaces/default/pods/../../kube-system/secrets", "", `".." segment`},
		{"dot", "c", "GET", "/api/v1/./nodes", "", `"." segment`},
		{"space", "c", "GET", "/api/v1/namespaces/default/pods/a b", "", "has a space"},
		{"non-ASCII", "c", "GET", "/api/v1/namespaces/default/pods/pöd", "", "non-ASCII"},
		{"relative path", "c", "GET", "api/v1/pods", "", "must start with '/'"},
		{"empty path", "c", "GET", "", "", "must start with '/'"},
		{"watch without resource", "c", "GET", "/api/v1/watch", "", "cannot tell which resource"},
		{"unsupported method", "c", "OPTIONS", "/api/v1/namespaces/default/pods", "", `HTTP method "OPTIONS" is not supported on API resources`},
		{"empty cluster", "", "GET", "/api/v1/pods", "", "cluster is empty"},
		{"cluster with slash", "a/b", "GET", "/api/v1/pods", "", `cluster "a/b" cannot be used here`},
		{"cluster with star", "*", "GET", "/api/v1/pods", "", `cluster "*" cannot be used here`},
		{"cluster with colon", "a:b", "GET", "/api/v1/pods", "", `cluster "a:b" cannot be used here`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/?"+tt.query, nil)
			a, err := Member(tt.cluster, r, tt.path)
			if err == nil {
				t.Fatalf("Member(%q, %s %s) = %+v, want an error containing %q", tt.cluster, tt.method, tt.path, a, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
	if _, err := Member("c", nil, "/api"); err == nil {
		t.Error("Member with a nil request: no error")
	}
}

func TestPlatform(t *testing.T) {
	tests := []struct {
		name                string
		method, path, query string
		want                want
	}{
		{"get cluster", "GET", "/apis/platform.tkestack.io/v1/clusters/cls-1", "", want{"getCluster", "cluster:cls-1", true}},
		{"list clusters", "GET", "/apis/platform.tkestack.io/v1/clusters", "", want{"listCluster", "cluster:*", true}},
		{"watch clusters", "GET", "/apis/platform.tkestack.io/v1/clusters", "watch=true", want{"watchCluster", "cluster:*", true}},
		{"create cluster", "POST", "/apis/platform.tkestack.io/v1/clusters", "", want{"createCluster", "cluster:*", false}},
		{"delete cluster", "DELETE", "/apis/platform.tkestack.io/v1/clusters/cls-1", "", want{"deleteCluster", "cluster:cls-1", false}},
		{"cluster status", "PUT", "/apis/platform.tkestack.io/v1/clusters/cls-1/status", "", want{"updateClusterStatus", "cluster:cls-1/status", false}},
		{"list users", "GET", "/apis/auth.tkestack.io/v1/users", "", want{"listUser", "user:*", true}},
		{"get user", "GET", "/apis/auth.tkestack.io/v1/users/default.alice", "", want{"getUser", "user:default.alice", true}},
		{"patch group", "PATCH", "/apis/auth.tkestack.io/v1/groups/devs", "", want{"patchGroup", "group:devs", false}},
		{"create api key", "POST", "/apis/auth.tkestack.io/v1/apikeys", "", want{"createApikey", "apikey:*", false}},
		{"identity provider", "GET", "/apis/auth.tkestack.io/v1/identityproviders/ldap", "", want{"getIdentityprovider", "identityprovider:ldap", true}},
		{"policy", "PUT", "/apis/auth.tkestack.io/v1/policies/readonly", "", want{"updatePolicy", "policy:readonly", false}},
		{"policy bindings", "DELETE", "/apis/auth.tkestack.io/v1/policybindings", "", want{"deletecollectionPolicybinding", "policybinding:*", false}},
		{"namespaced platform kind", "GET", "/apis/business.tkestack.io/v1/namespaces/prj-1/namespaces/ns-1", "", want{"getNamespace", "namespace:prj-1/namespace:ns-1", true}},
		{"unknown kind is not all-namespaces", "GET", "/apis/example.com/v1/widgets", "", want{"listWidget", "widget:*", true}},
		{"core namespace", "GET", "/api/v1/namespaces/kstack-system", "", want{"getNamespace", "namespace:kstack-system", true}},
		{"discovery", "GET", "/apis/platform.tkestack.io/v1", "", want{"getNonResource", "url:/apis/platform.tkestack.io/v1", true}},
		{"version", "GET", "/version", "", want{"getNonResource", "url:/version", true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/?"+tt.query, nil)
			a, err := Platform(r, tt.path)
			if err != nil {
				t.Fatalf("Platform(%s %s): %v", tt.method, tt.path, err)
			}
			if got := (want{a.Action, a.Resource, a.ReadOnly}); got != tt.want {
				t.Errorf("Platform(%s %s?%s)\n got %+v\nwant %+v", tt.method, tt.path, tt.query, got, tt.want)
			}
		})
	}
	for _, bad := range []string{
		"/apis/auth.tkestack.io/v1/users/a:b",
		"/apis/auth.tkestack.io/v1/users/*",
		"/apis/auth.tkestack.io/v1/users/../policies",
	} {
		if a, err := Platform(httptest.NewRequest("GET", "/", nil), bad); err == nil {
			t.Errorf("Platform(GET %s) = %+v, want an error", bad, a)
		}
	}
}

// The request's own path is ignored: only the path given counts.
func TestPathArgumentWins(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/kube-system/secrets/token", nil)
	a, err := Member("c", r, "/api/v1/namespaces/default/pods/web")
	if err != nil {
		t.Fatal(err)
	}
	if a.Resource != "cluster:c/namespace:default/pod:web" {
		t.Errorf("Resource = %q, want the member path's", a.Resource)
	}
}

// End to end with the policy engine: the strings made here are the ones
// policies are written against.
func TestWithPolicies(t *testing.T) {
	policies := []policy.Named{
		{Name: "dev-readonly", Statements: []policy.Statement{
			{Actions: []string{"get*", "list*", "watch*"}, Resources: []string{"cluster:c/namespace:dev/*"}, Effect: policy.Allow},
		}},
		{Name: "no-secrets", Statements: []policy.Statement{
			{Actions: []string{"*"}, Resources: []string{"cluster:*/namespace:*/secret:*"}, Effect: policy.Deny},
		}},
	}
	tests := []struct {
		method, path, query string
		allowed             bool
	}{
		{"GET", "/api/v1/namespaces/dev/pods/web", "", true},
		{"GET", "/api/v1/namespaces/dev/pods", "watch=true", true},
		{"GET", "/api/v1/namespaces/dev/pods/web/log", "", true},
		{"GET", "/api/v1/namespaces/dev/pods/web/exec", "command=sh", false}, // websocket exec is not a read
		{"DELETE", "/api/v1/namespaces/dev/pods/web", "", false},
		{"GET", "/api/v1/namespaces/dev/secrets/s", "", false},
		{"GET", "/api/v1/namespaces/prod/pods/web", "", false},
		{"GET", "/api/v1/pods", "", false}, // all namespaces is more than dev
		{"GET", "/api/v1/namespaces/dev", "", false},
	}
	for _, tt := range tests {
		a, err := Member("c", httptest.NewRequest(tt.method, "/?"+tt.query, nil), tt.path)
		if err != nil {
			t.Errorf("Member(%s %s): %v", tt.method, tt.path, err)
			continue
		}
		d := policy.Decide(policies, policy.Request{Action: a.Action, Resource: a.Resource})
		if d.Allowed != tt.allowed {
			t.Errorf("%s %s?%s: allowed=%v (%s), want %v", tt.method, tt.path, tt.query, d.Allowed, d.Reason, tt.allowed)
		}
	}
}
