package virtualnodeset

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/clustercache"
)

func TestOptionsRefuseOtherTenantsAndDisconnectedClusters(t *testing.T) {
	s := runtime.NewScheme()
	if err := platformv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	cluster := func(id, tenant string) *platformv1.Cluster {
		return &platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: id}, Spec: platformv1.ClusterSpec{TenantID: tenant, Type: platformv1.ClusterImported}}
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(cluster("cls-mine", "a"), cluster("cls-mine2", "a"), cluster("cls-theirs", "b")).Build()
	r := &Reconciler{Client: c, Cache: clustercache.New(nil), NodeIP: "127.0.0.1", Log: slog.Default()}
	vns := func(upper string, lowers ...string) *platformv1.VirtualNodeSet {
		return &platformv1.VirtualNodeSet{ObjectMeta: metav1.ObjectMeta{Name: "s", Labels: map[string]string{authv1.LabelTenant: "a"}},
			Spec: platformv1.VirtualNodeSetSpec{Upper: upper, Lowers: lowers}}
	}
	for _, tc := range []struct {
		set  *platformv1.VirtualNodeSet
		want string
	}{
		{vns("cls-mine", "cls-theirs"), "belongs to another tenant"},
		{vns("cls-theirs", "cls-mine"), "belongs to another tenant"},
		{vns("cls-mine", "cls-none"), "cls-none"},
		{vns("cls-mine", "cls-mine"), "its own lower cluster"},
		{vns("cls-mine", "cls-mine2"), "not connected"}, // the cache has no connection in this test
	} {
		_, err := r.options(context.Background(), tc.set)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("upper %s lowers %v: err %v, want %q", tc.set.Spec.Upper, tc.set.Spec.Lowers, err, tc.want)
		}
	}
}
