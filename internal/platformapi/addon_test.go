package platformapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/addons/catalog"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/clusteraddon"
	"github.com/kstack/kstack/internal/clustercache"
)

func addon(spec map[string]any, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "platform.tkestack.io/v1", "kind": "ClusterAddon",
		"metadata": map[string]any{}, "spec": spec}}
	if name != "" {
		u.SetName(name)
	}
	return u
}

// TestClusterAddonAdmission: a new add-on is completed (type as the
// catalog spells it, latest version, name), and refused with the field
// and the fix for an unknown type, version or cluster, another tenant's
// cluster, the global cluster, a name of another cluster, and a caller
// who may not update the cluster.
func TestClusterAddonAdmission(t *testing.T) {
	global := cluster("default", "global", nil)
	global.Spec.Type = platformv1.ClusterGlobal
	m := module(t, cluster("default", "cls-a", nil), cluster("t2", "cls-t2", nil), global, binding("default", "pat", "tenant"))
	m.Addons = &clusteraddon.Addons{Env: m.Env, Cache: clustercache.New(nil), Catalog: catalog.All()}
	ctx := context.Background()
	create := attributes.Attributes{Verb: "create", Kind: "clusteraddon"}

	u := addon(map[string]any{"tenantID": "default", "clusterName": "cls-a", "type": "cronhpa"}, "")
	if err := m.Admit(ctx, &apigroup.Request{Principal: admin, Attributes: create, Object: u}); err != nil {
		t.Fatal(err)
	}
	if u.GetName() != "cls-a-cronhpa" || u.Object["spec"].(map[string]any)["type"] != "CronHPA" || u.Object["spec"].(map[string]any)["version"] != "v1.1.0" {
		t.Fatalf("completed: %v", u.Object)
	}
	if err := m.Validate(ctx, &apigroup.Request{Principal: admin, Attributes: create, Object: u}); err != nil {
		t.Fatalf("a valid add-on: %v", err)
	}
	pat := &directory.Principal{Username: "pat", Tenant: "default"}
	for _, tt := range []struct {
		what string
		p    *directory.Principal
		u    *unstructured.Unstructured
		code int
		want string
	}{
		{"unknown type", admin, addon(map[string]any{"tenantID": "default", "clusterName": "cls-a", "type": "GPUManager", "version": "v1"}, "cls-a-gpumanager"), 422, `spec.type: there is no add-on type "GPUManager"; the types are CronHPA`},
		{"unknown version", admin, addon(map[string]any{"tenantID": "default", "clusterName": "cls-a", "type": "CronHPA", "version": "v9"}, "cls-a-cronhpa"), 422, `spec.version: CronHPA has no version "v9"; its versions are v1.0.0, v1.1.0`},
		{"another cluster's name", admin, addon(map[string]any{"tenantID": "default", "clusterName": "cls-a", "type": "CronHPA", "version": "v1.1.0"}, "cls-b-cronhpa"), 422, "metadata.name: the CronHPA add-on of cluster cls-a is named cls-a-cronhpa"},
		{"a missing cluster", admin, addon(map[string]any{"tenantID": "default", "clusterName": "cls-none", "type": "CronHPA", "version": "v1.1.0"}, "cls-none-cronhpa"), 422, `there is no cluster "cls-none" of tenant default`},
		{"another tenant's cluster", admin, addon(map[string]any{"tenantID": "default", "clusterName": "cls-t2", "type": "CronHPA", "version": "v1.1.0"}, "cls-t2-cronhpa"), 422, `there is no cluster "cls-t2" of tenant default`},
		{"the global cluster", admin, addon(map[string]any{"tenantID": "default", "clusterName": "global", "type": "CronHPA", "version": "v1.1.0"}, "global-cronhpa"), 422, "is the global cluster"},
		{"a caller who may not update the cluster", pat, addon(map[string]any{"tenantID": "default", "clusterName": "cls-a", "type": "CronHPA", "version": "v1.1.0"}, "cls-a-cronhpa"), 403, "may not use cluster:cls-a (it needs updateCluster)"},
	} {
		err := m.Validate(ctx, &apigroup.Request{Principal: tt.p, Attributes: create, Object: tt.u})
		var ae *apigroup.Error
		if !errors.As(err, &ae) || ae.Code != tt.code || !strings.Contains(ae.Msg, tt.want) {
			t.Errorf("%s: %v, want %d %q", tt.what, err, tt.code, tt.want)
		}
	}
	// Collection deletes would skip the in-use check.
	err := m.Admit(ctx, &apigroup.Request{Principal: admin, Attributes: attributes.Attributes{Verb: "deletecollection", Kind: "clusteraddon"}})
	var ae *apigroup.Error
	if !errors.As(err, &ae) || ae.Code != http.StatusMethodNotAllowed {
		t.Fatalf("deletecollection: %v", err)
	}
}
