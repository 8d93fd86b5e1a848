package localcluster

// Resource usage of local clusters. kwok serves each node's resource metrics
// (the Metric in its config) from usage that ResourceUsage (one pod) and
// ClusterResourceUsage (every pod) objects set, so that tests change it at
// run time; metrics-server reads them and serves the metrics API
// (`kubectl top`) through the aggregation layer.

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	apiregv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	"k8s.io/utils/ptr"
	kwokcrd "sigs.k8s.io/kwok/kustomize/crd"
	"sigs.k8s.io/kwok/kustomize/metrics/usage"
	kwokv1alpha1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"
	kwokclient "sigs.k8s.io/kwok/pkg/client/clientset/versioned"
	"sigs.k8s.io/yaml"

	"github.com/kstack/kstack/internal/controlplane"
)

// ResourceMetricsPathAnnotation names, on a node, the path of its kubelet
// endpoint that serves the resource metrics (metrics-server 0.7 and later
// read it; a kubelet serves /metrics/resource without it).
const ResourceMetricsPathAnnotation = "metrics.k8s.io/resource-metrics-path"

// nodeMetricsPath is the resource metrics path of one simulated node.
func nodeMetricsPath(node string) string {
	return strings.Replace(resourceMetricsPath, "{nodeName}", node, 1)
}

// kwokCRDs are the definitions of the kinds kwok reads from the cluster
// (controlplane.KwokCRDs, in that order).
var kwokCRDs = [][]byte{kwokcrd.Logs, kwokcrd.ResourceUsage, kwokcrd.ClusterResourceUsage}

// installKwokCRDs installs the CRDs of the kinds kwok watches
// (--enable-crds): kwok leaves installing their definitions to whoever sets
// it up, and fails to watch a kind the API does not serve. It fails until
// every one is established.
func installKwokCRDs(ctx context.Context, l controlplane.Layout) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", l.AdminKubeconfig())
	if err != nil {
		return err
	}
	cs, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	crds := cs.ApiextensionsV1().CustomResourceDefinitions()
	for _, def := range kwokCRDs {
		var want apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(def, &want); err != nil {
			return fmt.Errorf("kwok's CRD: %w", err)
		}
		cur, err := crds.Get(ctx, want.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			cur, err = crds.Create(ctx, &want, metav1.CreateOptions{})
		case err == nil && !reflect.DeepEqual(cur.Spec.Versions, want.Spec.Versions):
			// A newer kstack brings a newer kwok.
			cur.Spec = want.Spec
			cur, err = crds.Update(ctx, cur, metav1.UpdateOptions{})
		}
		if err != nil {
			return fmt.Errorf("installing kwok's CRD %s: %w", want.Name, err)
		}
		established := false
		for _, c := range cur.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				established = true
			}
		}
		if !established {
			return fmt.Errorf("kwok's CRD %s is not established yet", want.Name)
		}
	}
	return nil
}

// ensureDefaultUsage gives every pod without a ResourceUsage of its own a
// small usage (kwok's ClusterResourceUsage: 1m CPU and 1Mi memory per
// container, or the pod's kwok.x-k8s.io/usage-cpu and usage-memory
// annotations), so that a fresh cluster's `kubectl top` shows figures. Made
// once: a changed or deleted default stays so.
func ensureDefaultUsage(ctx context.Context, cfg *rest.Config) error {
	var want kwokv1alpha1.ClusterResourceUsage
	if err := yaml.Unmarshal([]byte(usage.DefaultUsageFromAnnotation), &want); err != nil {
		return fmt.Errorf("kwok's default ClusterResourceUsage: %w", err)
	}
	cs, err := kwokclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = cs.KwokV1alpha1().ClusterResourceUsages().Create(ctx, &want, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("the default resource usage: %w", err)
	}
	return nil
}

// The metrics API's objects in a local cluster.
const (
	metricsAPIService   = "v1beta1.metrics.k8s.io"
	metricsServerName   = "metrics-server"
	metricsServerNS     = "kube-system"
	metricsReaderRole   = "system:aggregated-metrics-reader"
	managedByLabel      = "app.kubernetes.io/managed-by"
	managedByLocalValue = "kstack-local-cluster"
)

// metricsAPIObjects are the objects that route the metrics API to
// metrics-server on loopback. Without kube-proxy nor a cluster network, the
// aggregator reaches it through an ExternalName Service (which it resolves
// to externalName and the APIService's port), checking its certificate
// against ca for the Service's DNS name. The ClusterRole lets holders of
// the view, edit and admin roles read the metrics of what they may see.
func metricsAPIObjects(port int, ca []byte) (*corev1.Service, *apiregv1.APIService, *rbacv1.ClusterRole) {
	labels := map[string]string{"k8s-app": metricsServerName, managedByLabel: managedByLocalValue}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: metricsServerName, Namespace: metricsServerNS, Labels: labels},
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: "127.0.0.1",
			Ports:        []corev1.ServicePort{{Name: "https", Port: int32(port), Protocol: corev1.ProtocolTCP}},
		},
	}
	api := &apiregv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: metricsAPIService, Labels: labels},
		Spec: apiregv1.APIServiceSpec{
			Group: "metrics.k8s.io", Version: "v1beta1",
			Service:              &apiregv1.ServiceReference{Namespace: metricsServerNS, Name: metricsServerName, Port: ptr.To(int32(port))},
			CABundle:             ca,
			GroupPriorityMinimum: 100,
			VersionPriority:      100,
		},
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: metricsReaderRole, Labels: map[string]string{
			"rbac.authorization.k8s.io/aggregate-to-view":  "true",
			"rbac.authorization.k8s.io/aggregate-to-edit":  "true",
			"rbac.authorization.k8s.io/aggregate-to-admin": "true",
			managedByLabel: managedByLocalValue,
		}},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"metrics.k8s.io"}, Resources: []string{"pods", "nodes"}, Verbs: []string{"get", "list", "watch"}}},
	}
	return svc, api, role
}

// ensureMetricsAPI creates the metrics API's objects, or brings them back
// to what this cluster needs (a port given to an older cluster, a new CA).
func ensureMetricsAPI(ctx context.Context, cfg *rest.Config, l controlplane.Layout, port int) error {
	ca, err := os.ReadFile(l.PKI("ca.crt"))
	if err != nil {
		return err
	}
	svc, api, role := metricsAPIObjects(port, ca)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ag, err := aggregator.NewForConfig(cfg)
	if err != nil {
		return err
	}

	services := cs.CoreV1().Services(metricsServerNS)
	curSvc, err := services.Get(ctx, svc.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = services.Create(ctx, svc, metav1.CreateOptions{})
	case err == nil && (curSvc.Spec.Type != svc.Spec.Type || curSvc.Spec.ExternalName != svc.Spec.ExternalName || !reflect.DeepEqual(curSvc.Spec.Ports, svc.Spec.Ports)):
		curSvc.Spec = svc.Spec
		_, err = services.Update(ctx, curSvc, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("metrics-server's Service: %w", err)
	}

	roles := cs.RbacV1().ClusterRoles()
	curRole, err := roles.Get(ctx, role.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = roles.Create(ctx, role, metav1.CreateOptions{})
	case err == nil && !reflect.DeepEqual(curRole.Rules, role.Rules):
		curRole.Rules = role.Rules
		_, err = roles.Update(ctx, curRole, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("the metrics reader ClusterRole: %w", err)
	}

	apis := ag.ApiregistrationV1().APIServices()
	curAPI, err := apis.Get(ctx, api.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = apis.Create(ctx, api, metav1.CreateOptions{})
	case err == nil && !reflect.DeepEqual(curAPI.Spec, api.Spec):
		curAPI.Spec = api.Spec
		_, err = apis.Update(ctx, curAPI, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("the metrics APIService: %w", err)
	}
	return nil
}

// waitMetricsAPI waits until the aggregator reports the metrics API
// available: until then, every discovery by kubectl prints an error about it.
func waitMetricsAPI(ctx context.Context, cfg *rest.Config) error {
	ag, err := aggregator.NewForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		why := "no status yet"
		api, err := ag.ApiregistrationV1().APIServices().Get(ctx, metricsAPIService, metav1.GetOptions{})
		if err != nil {
			why = err.Error()
		} else {
			for _, c := range api.Status.Conditions {
				if c.Type == apiregv1.Available {
					if c.Status == apiregv1.ConditionTrue {
						return nil
					}
					why = c.Reason + ": " + c.Message
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the metrics API did not become available within 2 minutes (%s; see the metrics-server log)", why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
