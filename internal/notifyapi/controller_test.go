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

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/apigroup/apigrouptest"
)

// A credentials Secret is collected when its channel does not name it (it
// is gone, or names another version), once OrphanGrace has passed since
// the Secret was written: not since it was created, so that a Secret
// written again under the name of one left behind is not collected under
// the channel that is being made.
func TestCredentialsCollected(t *testing.T) {
	_, c := module(t)
	ctx := context.Background()
	now := time.Now()
	for _, n := range []string{"smtp", "hook"} {
		var ch notifyv1.Channel
		if err := c.Get(ctx, client.ObjectKey{Namespace: prjA, Name: n}, &ch); err != nil {
			t.Fatal(err)
		}
		ch.Spec.CredentialsSecret = "channel-" + prjA + "-" + n + "-0000000a"
		if err := c.Update(ctx, &ch); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(name, owner string, created, written time.Duration) {
		labels := map[string]string{}
		if owner != "" {
			labels[LabelChannel] = owner
		}
		ann := map[string]string{}
		if written >= 0 {
			ann[AnnotationWrittenAt] = now.Add(-written).UTC().Format(time.RFC3339)
		}
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: sysNS, Name: name, Labels: labels, Annotations: ann, CreationTimestamp: metav1.NewTime(now.Add(-created))}}
		if err := c.Create(ctx, sec); err != nil {
			t.Fatal(err)
		}
	}
	mk("channel-"+prjA+"-smtp-0000000a", prjA+".smtp", time.Hour, time.Hour)   // the version its channel names
	mk("channel-"+prjA+"-smtp-0000000b", prjA+".smtp", time.Hour, time.Hour)   // a version replaced
	mk("channel-"+prjA+"-hook-0000000b", prjA+".hook", time.Hour, time.Minute) // a version being written
	mk("channel-"+prjA+"-gone-0000000a", prjA+".gone", time.Hour, time.Hour)   // its channel is gone
	mk("channel-"+prjA+"-new-0000000a", prjA+".new", time.Hour, time.Minute)   // written again for a channel being made
	mk("channel-"+prjA+"-old-0000000a", prjA+".old", time.Hour, -1)            // written before the annotation
	mk("channel-"+prjA+"-fresh-0000000a", prjA+".fresh", time.Minute, -1)      // the same, just made
	mk("kstack-ca", "", time.Hour, time.Hour)                                  // not a channel's
	r := &Credentials{Client: c, Reader: c, SystemNamespace: sysNS, Now: func() time.Time { return now }}
	for _, tc := range []struct {
		name    string
		kept    bool
		requeue bool
	}{
		{"channel-" + prjA + "-smtp-0000000a", true, false},
		{"channel-" + prjA + "-smtp-0000000b", false, false},
		{"channel-" + prjA + "-hook-0000000b", true, true},
		{"channel-" + prjA + "-gone-0000000a", false, false},
		{"channel-" + prjA + "-new-0000000a", true, true},
		{"channel-" + prjA + "-old-0000000a", false, false},
		{"channel-" + prjA + "-fresh-0000000a", true, true},
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
	// A channel's change reaches every Secret of it.
	reqs := r.secretsOf(ctx, &notifyv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: prjA, Name: "hook"}})
	if len(reqs) != 1 || reqs[0].Name != "channel-"+prjA+"-hook-0000000b" {
		t.Errorf("the Secrets of channel hook: %v", reqs)
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
