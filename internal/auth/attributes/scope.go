package attributes

// clusterScopedResources lists Kubernetes' own cluster-scoped resources by
// group and plural. A path does not say whether /apis/G/v1/R is a kind
// outside namespaces or a namespaced kind across all of them, and discovery
// is not at hand here, so the built-in kinds are listed; anything else is
// taken as namespaced and gets a "namespace:*" resource, which rights on one
// namespace never reach.
var clusterScopedResources = map[string]map[string]bool{
	"": set("nodes", "namespaces", "persistentvolumes", "componentstatuses"),
	"admissionregistration.k8s.io": set("mutatingwebhookconfigurations", "validatingwebhookconfigurations",
		"validatingadmissionpolicies", "validatingadmissionpolicybindings",
		"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"),
	"apiextensions.k8s.io":         set("customresourcedefinitions"),
	"apiregistration.k8s.io":       set("apiservices"),
	"authentication.k8s.io":        set("tokenreviews", "selfsubjectreviews"),
	"authorization.k8s.io":         set("subjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
	"certificates.k8s.io":          set("certificatesigningrequests", "clustertrustbundles"),
	"flowcontrol.apiserver.k8s.io": set("flowschemas", "prioritylevelconfigurations"),
	"internal.apiserver.k8s.io":    set("storageversions"),
	"metrics.k8s.io":               set("nodes"),
	"networking.k8s.io":            set("ingressclasses", "ipaddresses", "servicecidrs"),
	"node.k8s.io":                  set("runtimeclasses"),
	"rbac.authorization.k8s.io":    set("clusterroles", "clusterrolebindings"),
	"resource.k8s.io":              set("deviceclasses", "resourceslices"),
	"scheduling.k8s.io":            set("priorityclasses"),
	"storage.k8s.io":               set("storageclasses", "csidrivers", "csinodes", "volumeattachments", "volumeattributesclasses"),
	"storagemigration.k8s.io":      set("storageversionmigrations"),
}

func clusterScoped(group, resource string) bool {
	return clusterScopedResources[group][resource]
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
