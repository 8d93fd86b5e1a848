package notifyapi

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kstack/kstack/internal/apigroup/apigrouptest"
)

func TestCredentialsCollected(t *testing.T) {
	_, c := module(t)
	ctx := context.Background()
	now := time.Now()
	mk := func(name, owner string, age time.Duration) {
		labels := map[string]string{}
		if owner != "" {
			labels[LabelChannel] = owner
		}
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: sysNS, Name: name, Labels: labels, CreationTimestamp: metav1.NewTime(now.Add(-age))}}
		if err := c.Create(ctx, sec); err != nil {
			t.Fatal(err)
		}
	}
	mk("channel-"+prjA+"-smtp", prjA+".smtp", time.Hour) // its channel lives
	mk("channel-"+prjA+"-gone", prjA+".gone", time.Hour) // its channel is gone
	mk("channel-"+prjA+"-new", prjA+".new", time.Minute) // its channel is being made
	mk("kstack-ca", "", time.Hour)                       // not a channel's
	r := &Credentials{Client: c, Reader: c, SystemNamespace: sysNS, Now: func() time.Time { return now }}
	for _, tc := range []struct {
		name    string
		kept    bool
		requeue bool
	}{
		{"channel-" + prjA + "-smtp", true, false},
		{"channel-" + prjA + "-gone", false, false},
		{"channel-" + prjA + "-new", true, true},
		{"kstack-ca", true, false},
		{"channel-" + prjA + "-never", false, false},
	} {
		res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: sysNS, Name: tc.name}})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.requeue != (res.RequeueAfter > 0 && res.RequeueAfter <= OrphanGrace) {
			t.Errorf("%s: %+v", tc.name, res)
		}
		err = c.Get(ctx, client.ObjectKey{Namespace: sysNS, Name: tc.name}, &corev1.Secret{})
		if kept := err == nil; kept != tc.kept && !strings.HasSuffix(tc.name, "never") {
			t.Errorf("%s: kept %v, want %v", tc.name, kept, tc.kept)
		}
	}
}

// A credentials Secret is labelled with its channel: a name too long for
// a label is refused with the length that fits.
func TestAdmitLongName(t *testing.T) {
	m, _ := module(t)
	long := strings.Repeat("a", 51)
	_, err := admit(t, m, pa, "create", prjA, channel("", long, "default", emailSpec("pw")))
	apigrouptest.CheckRefusal(t, err, 422, `a channel with credentials has a name of at most 50 characters in namespace prj-aaaaaaaa`)
	_, err = admit(t, m, pa, "create", prjA, channel("", long[:50], "default", emailSpec("pw")))
	apigrouptest.CheckRefusal(t, err, 0, "")
	// Without credentials there is no Secret to label.
	_, err = admit(t, m, pa, "create", prjA, channel("", long, "default", webhookSpec("https://hook.example")))
	apigrouptest.CheckRefusal(t, err, 0, "")
}
