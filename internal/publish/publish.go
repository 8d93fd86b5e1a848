// Package publish applies one set of manifests to a project's namespace in
// several clusters, with per-cluster overrides of replicas and image, and
// reports each workload's readiness (seed 002's second scenario). The CLI
// runs it through the platform's proxy as the user; the gateway serves it
// as an API, in-process, as the caller.
package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	businessv1 "github.com/kstack/kstack/api/business/v1"
)

// Result is one object in one cluster.
type Result = businessv1.PublishResult

// Overrides are per-cluster changes: "value" for every cluster or
// "cls-x=value" for one.
type Overrides = businessv1.PublishOverrides

// For picks the value for one cluster.
func For(flags []string, cluster string) string {
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

// Decode reads YAML or JSON documents.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
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
		if len(out) == 500 {
			return nil, fmt.Errorf("more than 500 objects: split the manifests")
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the manifests hold no objects")
	}
	return out, nil
}

// Apply applies objs to namespace in the cluster that cfg reaches, and waits
// up to timeout for its workloads.
func Apply(ctx context.Context, cfg *rest.Config, cluster, namespace string, objs []*unstructured.Unstructured, o Overrides, timeout time.Duration) ([]Result, error) {
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
		if err := override(obj, For(o.Replicas, cluster), For(o.Images, cluster)); err != nil {
			return nil, err
		}
		m, err := mapper.RESTMapping(obj.GroupVersionKind().GroupKind(), obj.GroupVersionKind().Version)
		if err != nil {
			return nil, fmt.Errorf("%s %s: the cluster does not know the kind: %w", obj.GetKind(), obj.GetName(), err)
		}
		if m.Scope.Name() != "namespace" {
			return nil, fmt.Errorf("%s %s is not namespaced: publishing puts objects in a project's namespace only", obj.GetKind(), obj.GetName())
		}
		obj.SetNamespace(namespace)
		res := dyn.Resource(m.Resource).Namespace(namespace)
		if _, err := res.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "kstack", Force: true}); err != nil {
			return nil, fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		done = append(done, applied{obj, res})
	}
	var rows []Result
	deadline := time.Now().Add(timeout)
	for _, a := range done {
		name := strings.ToLower(a.obj.GetKind()) + "/" + a.obj.GetName()
		switch a.obj.GetKind() {
		case "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet":
		default:
			rows = append(rows, Result{Cluster: cluster, Object: name, Ready: "-", Status: "applied"})
			continue
		}
		var ready, want int64
		for {
			cur, err := a.res.Get(ctx, a.obj.GetName(), metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			ready, _, _ = unstructured.NestedInt64(cur.Object, "status", "readyReplicas")
			want, _, _ = unstructured.NestedInt64(cur.Object, "spec", "replicas")
			if a.obj.GetKind() == "DaemonSet" {
				ready, _, _ = unstructured.NestedInt64(cur.Object, "status", "numberReady")
				want, _, _ = unstructured.NestedInt64(cur.Object, "status", "desiredNumberScheduled")
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
		rows = append(rows, Result{Cluster: cluster, Object: name, Ready: fmt.Sprintf("%d/%d", ready, want), Status: st})
	}
	return rows, nil
}

// override sets replicas and images on workloads.
func override(obj *unstructured.Unstructured, replicas, image string) error {
	kind := obj.GetKind()
	if replicas != "" && (kind == "Deployment" || kind == "StatefulSet" || kind == "ReplicaSet") {
		var n int64
		if _, err := fmt.Sscan(replicas, &n); err != nil || n < 0 || fmt.Sprint(n) != replicas {
			return fmt.Errorf("replicas %q is not a whole number", replicas)
		}
		if err := unstructured.SetNestedField(obj.Object, n, "spec", "replicas"); err != nil {
			return err
		}
	}
	if image == "" {
		return nil
	}
	path := []string{"spec", "template", "spec", "containers"}
	switch kind {
	case "Pod":
		path = []string{"spec", "containers"}
	case "CronJob":
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
