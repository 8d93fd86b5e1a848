package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/printer"
)

// perCluster reads "value" (every cluster) or "cls-a=value" flags.
func perCluster(flags []string, cluster string) string {
	v := ""
	for _, f := range flags {
		if c, val, ok := strings.Cut(f, "="); ok && strings.HasPrefix(c, "cls-") {
			if c == cluster {
				return val
			}
			continue
		}
		v = f
	}
	return v
}

func newApplyCmd(o *Options) *cobra.Command {
	var file, project, namespace, output string
	var clusters, replicas, images []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "apply -f APP.yaml --project ID --clusters cls-a,cls-b --namespace NS",
		Short: "Publish one set of manifests to a project's namespace in several clusters at once",
		Long: `Applies the manifests (server-side apply, field manager "kstack") to the project's
namespace of that name in each cluster, through the platform and as you, with
per-cluster overrides of replicas and image, then waits for the workloads and
prints their rolled-up status per cluster. Overrides apply to Deployments,
StatefulSets and ReplicaSets (replicas) and every container of every pod
template (image); give one value for all clusters or CLUSTER=VALUE.`,
		Example: `  kstack apply -f shop.yaml --project prj-xxxxxxxx --clusters cls-a,cls-b --namespace web \
      --replicas 2 --replicas cls-b=4 --image cls-b=nginx:1.27`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" || project == "" || len(clusters) == 0 || namespace == "" {
				return fmt.Errorf("-f, --project, --clusters and --namespace are required")
			}
			data, err := readManifest(file)
			if err != nil {
				return err
			}
			objs, err := decodeManifests(data)
			if err != nil {
				return err
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var l businessv1.NamespaceList
			if err := c.Do(ctx, http.MethodGet, businessPath+"/namespaces/"+project+"/namespaces", "", nil, &l); err != nil {
				return err
			}
			for _, cl := range clusters {
				found := false
				for _, n := range l.Items {
					found = found || n.Spec.ClusterName == cl && n.Spec.Namespace == namespace
				}
				if !found {
					return fmt.Errorf("project %s has no namespace %s in cluster %s: create it first (kstack namespace create %s --project %s --cluster %s)", project, namespace, cl, namespace, project, cl)
				}
			}
			var rows [][]string
			var failed error
			for _, cl := range clusters {
				fmt.Fprintf(os.Stderr, "Applying %d objects to %s/%s\n", len(objs), cl, namespace)
				r, err := applyTo(ctx, c, cl, namespace, objs, perCluster(replicas, cl), perCluster(images, cl), timeout)
				if err != nil {
					rows = append(rows, []string{cl, "-", "-", "Failed: " + err.Error()})
					failed = errors.Join(failed, fmt.Errorf("%s: %w", cl, err))
					continue
				}
				rows = append(rows, r...)
			}
			if err := printer.Print(os.Stdout, output, rows, []string{"CLUSTER", "OBJECT", "READY", "STATUS"}, rows); err != nil {
				return err
			}
			return failed
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "manifests (YAML or JSON, several documents; - for stdin)")
	f.StringVar(&project, "project", "", "project ID")
	f.StringSliceVar(&clusters, "clusters", nil, "cluster IDs, comma-separated")
	f.StringVarP(&namespace, "namespace", "n", "", "the project's namespace (it must exist in each cluster)")
	f.StringSliceVar(&replicas, "replicas", nil, "replicas for all clusters, or CLUSTER=N (repeatable)")
	f.StringSliceVar(&images, "image", nil, "image for every container, or CLUSTER=IMAGE (repeatable)")
	f.DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the workloads to be ready")
	outputFlag(cmd, &output)
	return cmd
}

func readManifest(file string) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(os.Stdin)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading -f: %w", err)
	}
	return data, nil
}

func decodeManifests(data []byte) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("document %d is not valid YAML or JSON: %w", i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("document %d needs apiVersion, kind and metadata.name", i)
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the manifests hold no objects")
	}
	return out, nil
}

// applyTo applies the objects in one cluster and waits for its workloads.
func applyTo(ctx context.Context, c *apiclient.Client, cluster, namespace string, objs []*unstructured.Unstructured, replicas, image string, timeout time.Duration) ([][]string, error) {
	tok := c.Token
	if c.TokenFunc != nil {
		var err error
		if tok, err = c.TokenFunc(ctx); err != nil {
			return nil, err
		}
	}
	cfg := &rest.Config{Host: c.Base + "/apis/platform.tkestack.io/v1/clusters/" + cluster + "/proxy", BearerToken: tok,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CAPEM}, QPS: 50, Burst: 100}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	type applied struct {
		obj *unstructured.Unstructured
		res dynamic.ResourceInterface
	}
	var done []applied
	for _, src := range objs {
		obj := src.DeepCopy()
		if err := override(obj, replicas, image); err != nil {
			return nil, err
		}
		m, err := mapper.RESTMapping(obj.GroupVersionKind().GroupKind(), obj.GroupVersionKind().Version)
		if err != nil {
			return nil, fmt.Errorf("%s %s: the cluster does not know the kind: %w", obj.GetKind(), obj.GetName(), err)
		}
		var res dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			obj.SetNamespace(namespace)
			res = dyn.Resource(m.Resource).Namespace(namespace)
		}
		if _, err := res.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "kstack", Force: true}); err != nil {
			return nil, fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		done = append(done, applied{obj, res})
	}
	var rows [][]string
	deadline := time.Now().Add(timeout)
	for _, a := range done {
		name := strings.ToLower(a.obj.GetKind()) + "/" + a.obj.GetName()
		switch a.obj.GetKind() {
		case "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet":
		default:
			rows = append(rows, []string{cluster, name, "-", "applied"})
			continue
		}
		var ready, want int64
		for {
			cur, err := a.res.Get(ctx, a.obj.GetName(), metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			ready, _, _ = unstructured.NestedInt64(cur.Object, "status", "readyReplicas")
			if a.obj.GetKind() == "DaemonSet" {
				ready, _, _ = unstructured.NestedInt64(cur.Object, "status", "numberReady")
				want, _, _ = unstructured.NestedInt64(cur.Object, "status", "desiredNumberScheduled")
			} else {
				want, _, _ = unstructured.NestedInt64(cur.Object, "spec", "replicas")
			}
			if ready >= want || time.Now().After(deadline) {
				break
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Second):
			}
		}
		st := "Ready"
		if ready < want {
			st = "NotReady (see its events: quota, image, scheduling)"
		}
		rows = append(rows, []string{cluster, name, fmt.Sprintf("%d/%d", ready, want), st})
	}
	return rows, nil
}

// override sets replicas and images on workloads.
func override(obj *unstructured.Unstructured, replicas, image string) error {
	kind := obj.GetKind()
	if replicas != "" && (kind == "Deployment" || kind == "StatefulSet" || kind == "ReplicaSet") {
		var n int64
		if _, err := fmt.Sscan(replicas, &n); err != nil || n < 0 || fmt.Sprint(n) != replicas {
			return fmt.Errorf("--replicas %q is not a whole number", replicas)
		}
		if err := unstructured.SetNestedField(obj.Object, n, "spec", "replicas"); err != nil {
			return err
		}
	}
	if image == "" {
		return nil
	}
	path := []string{"spec", "template", "spec", "containers"}
	if kind == "Pod" {
		path = []string{"spec", "containers"}
	} else if kind == "CronJob" {
		path = []string{"spec", "jobTemplate", "spec", "template", "spec", "containers"}
	}
	cs, found, _ := unstructured.NestedSlice(obj.Object, path...)
	if !found {
		return nil
	}
	for i := range cs {
		if m, ok := cs[i].(map[string]any); ok {
			m["image"] = image
		}
	}
	return unstructured.SetNestedSlice(obj.Object, cs, path...)
}
