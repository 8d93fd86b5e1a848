package notifyapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/apigroup/apigrouptest"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/notifychannel"
	"github.com/kstack/kstack/internal/notifyqueue"
)

// admitURL runs Admit as the gateway does for a request on the URL's
// channel urlName, with query q, whatever obj's name.
func admitURL(t *testing.T, m *Module, p *directory.Principal, verb, ns, urlName string, q url.Values, obj client.Object) (*apigroup.Request, error) {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, m.Client.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	u := apigrouptest.Unstructured(t, obj)
	u.SetGroupVersionKind(gvk)
	r := &apigroup.Request{Principal: p, Attributes: attr(m, verb, "channel", ns, urlName), Object: u, Query: q}
	return r, m.Admit(context.Background(), r)
}

// create admits and stores a channel.
func create(t *testing.T, m *Module, c client.Client, name string, spec notifyv1.ChannelSpec) *notifyv1.Channel {
	t.Helper()
	u, err := admit(t, m, pa, "create", prjA, channel("", name, "default", spec))
	apigrouptest.CheckRefusal(t, err, 0, "")
	ch := asChannel(t, u, prjA)
	store(t, c, ch)
	return ch
}

// A replace's body names the channel of its URL: the gateway decided on
// that one, and another's credentials are never written.
func TestAdmitNameOfTheURL(t *testing.T) {
	m, c := module(t)
	create(t, m, c, "mine", emailSpec("mine"))
	create(t, m, c, "victim", emailSpec("theirs"))
	before := secret(t, c, prjA, "victim")
	_, err := admitURL(t, m, pa, "update", prjA, "mine", nil, channel(prjA, "victim", "default", emailSpec("mallory")))
	apigrouptest.CheckRefusal(t, err, 400, `metadata.name "victim" is not the channel of the URL ("mine"): a replace (PUT) keeps the channel's name`)
	if got := secret(t, c, prjA, "victim"); got.Name != before.Name || string(got.Data["password"]) != "theirs" {
		t.Errorf("victim's credentials: %s %q", got.Name, got.Data["password"])
	}
	if n := len(secrets(t, c, prjA, "victim")); n != 1 {
		t.Errorf("victim has %d Secrets", n)
	}
}

// A Secret the channel names that is labelled as another's (or another
// tenant's) is refused, never taken over nor read.
func TestAdmitSecretNotTheChannels(t *testing.T) {
	m, c := module(t)
	ctx := context.Background()
	for _, tc := range []struct{ name, owner, tenant string }{
		{"another channel's", prjA + ".victim", "default"},
		{"another tenant's", prjA + ".c1", "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := channel(prjA, "c1", "default", emailSpec(""))
			ch.Spec.CredentialsSecret = "channel-" + prjA + "-c1-0123abcd"
			store(t, c, ch)
			_ = c.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: sysNS, Name: ch.Spec.CredentialsSecret}})
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: sysNS, Name: ch.Spec.CredentialsSecret,
				Labels:      map[string]string{LabelChannel: tc.owner, authv1.LabelTenant: tc.tenant},
				Annotations: map[string]string{AnnotationDestination: destinationHash(&ch.Spec)}}, Data: map[string][]byte{"password": []byte("theirs")}}
			if err := c.Create(ctx, sec); err != nil {
				t.Fatal(err)
			}
			_, err := admit(t, m, pa, "update", prjA, channel(prjA, "c1", "default", emailSpec("")))
			apigrouptest.CheckRefusal(t, err, 409, "the channel names Secret channel-prj-aaaaaaaa-c1-0123abcd of the platform, which is not labelled as this channel's credentials: it is not taken over")
			if got := secretNamed(t, c, sec.Name); string(got.Data["password"]) != "theirs" || got.Labels[LabelChannel] != tc.owner {
				t.Errorf("the Secret was changed: %v %q", got.Labels, got.Data["password"])
			}
		})
	}
}

// A stored credential is kept for the destination it was given for only:
// a replace that sends elsewhere gives it again.
func TestAdmitCredentialsDestination(t *testing.T) {
	const pem = "-----BEGIN CERTIFICATE-----\nMIIBhTCCASugAwIBAgIQIRi6zePL6mKjOipn+dNuaTAKBggqhkjOPQQDAjASMRAw\nDgYDVQQKEwdBY21lIENvMB4XDTE3MTAyMDE5NDMwNloXDTE4MTAyMDE5NDMwNlow\nEjEQMA4GA1UEChMHQWNtZSBDbzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABD0d\n7VNhbWvZLWPuj/RtHFjvtJBEwOkhbN/BnnE8rnZR8+sbwnc/KhCk3FhnpHZnQz7B\n5aETbbIgmuvewdjvSBSjYzBhMA4GA1UdDwEB/wQEAwICpDATBgNVHSUEDDAKBggr\nBgEFBQcDATAPBgNVHRMBAf8EBTADAQH/MCkGA1UdEQQiMCCCDmxvY2FsaG9zdDo1\nNDUzgg4xMjcuMC4wLjE6NTQ1MzAKBggqhkjOPQQDAgNIADBFAiEA2zpJEPQyz6/l\nWf86aX6PepsntZv2GYlA5UpabfT2EZICICpJ5h/iI+i341gBmLiAFQOyTDT+/wQc\n6MF9+Yw1Yy0t\n-----END CERTIFICATE-----\n"
	tok := notifyv1.Header{Name: "Authorization", Value: "tok", Secret: true}
	kept := notifyv1.Header{Name: "Authorization", Secret: true}
	for _, tc := range []struct {
		name          string
		stored, spec  notifyv1.ChannelSpec
		msg           string // "": kept
		key, wantKept string
	}{
		{"email, same server", emailSpec("pw"), edit(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.From = "other@example.com"; s.DisplayName = "x" }), "", "password", "pw"},
		{"email, another server", emailSpec("pw"), edit(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.SMTPHost = "sms.example" }),
			"spec.email.smtpHost changed: send spec.email.password again (stored credentials are only kept for the same destination)", "", ""},
		{"email, another port", emailSpec("pw"), edit(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.SMTPPort = 2525 }), "spec.email.smtpPort changed", "", ""},
		{"email, implicit TLS", emailSpec("pw"), edit(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.TLS = "implicit" }), "spec.email.tls changed", "", ""},
		{"email, another CA", emailSpec("pw"), edit(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.CABundle = pem }), "spec.email.caBundle changed", "", ""},
		{"email, another user", emailSpec("pw"), edit(emailSpec(""), func(s *notifyv1.ChannelSpec) { s.Email.Username = "mallory" }), "spec.email.username changed", "", ""},
		{"email, another server, password given", emailSpec("pw"), edit(emailSpec("pw2"), func(s *notifyv1.ChannelSpec) { s.Email.SMTPHost = "sms.example" }), "", "password", "pw2"},
		{"webhook, same URL", webhookSpec("https://hook.example/a", tok), webhookSpec("https://hook.example/a", kept, notifyv1.Header{Name: "X-Team", Value: "ops"}), "", "header.Authorization", "tok"},
		{"webhook, another URL", webhookSpec("https://hook.example/a", tok), webhookSpec("https://sms.example/steal", kept),
			"spec.webhook.url changed: send the secret header values again (stored credentials are only kept for the same destination)", "", ""},
		{"webhook, another CA", webhookSpec("https://hook.example/a", tok), edit(webhookSpec("https://hook.example/a", kept), func(s *notifyv1.ChannelSpec) { s.Webhook.CABundle = pem }),
			"spec.webhook.caBundle changed", "", ""},
		{"sms, another endpoint", smsSpec("tencentcloud-sms", "k"), edit(smsSpec("tencentcloud-sms", ""), func(s *notifyv1.ChannelSpec) { s.SMS.Endpoint = "https://sms.example" }),
			"spec.sms.endpoint changed: send spec.sms.key again", "", ""},
		{"sms, same endpoint", smsSpec("tencentcloud-sms", "k"), edit(smsSpec("tencentcloud-sms", ""), func(s *notifyv1.ChannelSpec) { s.SMS.Params["signName"] = "x" }), "", "key", "k"},
		{"wechat, another endpoint", wechatSpec("wechat-mp", "k"), edit(wechatSpec("wechat-mp", ""), func(s *notifyv1.ChannelSpec) { s.WeChat.Endpoint = "https://sms.example" }),
			"spec.wechat.endpoint changed: send spec.wechat.key again", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t)
			first := create(t, m, c, "c1", tc.stored)
			u, err := admit(t, m, pa, "update", prjA, channel(prjA, "c1", "default", tc.spec))
			if tc.msg != "" {
				apigrouptest.CheckRefusal(t, err, 422, tc.msg)
				return
			}
			apigrouptest.CheckRefusal(t, err, 0, "")
			ch := asChannel(t, u, prjA)
			if got := secretNamed(t, c, ch.Spec.CredentialsSecret); string(got.Data[tc.key]) != tc.wantKept {
				t.Errorf("%s = %q, want %q", tc.key, got.Data[tc.key], tc.wantKept)
			}
			if tc.spec.Email != nil && tc.spec.Email.Password == "" && ch.Spec.CredentialsSecret != first.Spec.CredentialsSecret {
				t.Errorf("nothing changed, yet a new Secret %s was written", ch.Spec.CredentialsSecret)
			}
		})
	}
	// A destination changed by an administrator's patch (no credential
	// moved): the next replace gives them again.
	m, c := module(t)
	ch := create(t, m, c, "c1", webhookSpec("https://hook.example/a", tok))
	ch.Spec.Webhook.URL = "https://sms.example/steal"
	store(t, c, ch)
	_, err := admit(t, m, pa, "update", prjA, channel(prjA, "c1", "default", webhookSpec("https://sms.example/steal", kept)))
	apigrouptest.CheckRefusal(t, err, 422, "the destination changed: send the secret header values again (stored credentials are only kept for the same destination)")
}

// A dry run checks and blanks the credentials, and writes nothing.
func TestAdmitDryRun(t *testing.T) {
	m, c := module(t)
	dry := url.Values{"dryRun": {"All"}}
	r, err := admitURL(t, m, pa, "create", prjA, "", dry, channel("", "c1", "default", emailSpec("dry")))
	apigrouptest.CheckRefusal(t, err, 0, "")
	noCredential(t, r.Object, "dry")
	noSecret(t, c, prjA, "c1")
	ch := asChannel(t, r.Object, prjA)
	apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, pa, "create", ch)), 0, "")
	_, err = admitURL(t, m, pa, "create", prjA, "", dry, channel("", "c2", "default", emailSpec("")))
	apigrouptest.CheckRefusal(t, err, 422, "spec.email.password: give it")

	stored := create(t, m, c, "c1", emailSpec("one"))
	r, err = admitURL(t, m, pa, "update", prjA, "c1", dry, channel(prjA, "c1", "default", emailSpec("two")))
	apigrouptest.CheckRefusal(t, err, 0, "")
	noCredential(t, r.Object, "two")
	if got := secrets(t, c, prjA, "c1"); len(got) != 1 || got[0].Name != stored.Spec.CredentialsSecret || string(got[0].Data["password"]) != "one" {
		t.Errorf("a dry run wrote credentials: %+v", got)
	}
	// The same through the request's flag.
	req := &apigroup.Request{Principal: pa, Attributes: attr(m, "update", "channel", prjA, "c1"), DryRun: true,
		Object: apigrouptest.Unstructured(t, channel(prjA, "c1", "default", emailSpec("four")))}
	apigrouptest.CheckRefusal(t, m.Admit(context.Background(), req), 0, "")
	for _, sec := range secrets(t, c, prjA, "c1") {
		if string(sec.Data["password"]) == "four" {
			t.Errorf("a dry run wrote Secret %s", sec.Name)
		}
	}
}

// The credentials of a replace the API server then refuses (a stale
// resourceVersion, a rule of the CRD) never reach the stored channel:
// it names its Secret, unchanged, and the one written is collected.
func TestAdmitCredentialsOfARefusedWrite(t *testing.T) {
	m, c := module(t)
	stored := create(t, m, c, "c1", emailSpec("one"))
	u, err := admit(t, m, pa, "update", prjA, channel(prjA, "c1", "default", emailSpec("two")))
	apigrouptest.CheckRefusal(t, err, 0, "")
	written := asChannel(t, u, prjA).Spec.CredentialsSecret
	if written == stored.Spec.CredentialsSecret || !notifychannel.OwnSecret(prjA, "c1", written) {
		t.Fatalf("the replace's Secret %q (the stored channel's %q)", written, stored.Spec.CredentialsSecret)
	}
	// The write is refused: nothing is stored.
	if got := secret(t, c, prjA, "c1"); got.Name != stored.Spec.CredentialsSecret || string(got.Data["password"]) != "one" {
		t.Errorf("the stored channel's credentials after a refused write: %s %q", got.Name, got.Data["password"])
	}
	res, err := notifychannel.Resolve(context.Background(), c, types.NamespacedName{Namespace: prjA, Name: "c1"})
	if err != nil || string(res.Secret["password"]) != "one" {
		t.Errorf("resolved %+v, %v", res, err)
	}
	collect(t, c, time.Now())
	if n := len(secrets(t, c, prjA, "c1")); n != 2 {
		t.Errorf("%d Secrets within the grace, want both", n)
	}
	collect(t, c, time.Now().Add(OrphanGrace+time.Second))
	if got := secrets(t, c, prjA, "c1"); len(got) != 1 || got[0].Name != stored.Spec.CredentialsSecret {
		t.Errorf("after the grace: %+v", got)
	}
	// Stored, the new one replaces it.
	u, err = admit(t, m, pa, "update", prjA, channel(prjA, "c1", "default", emailSpec("three")))
	apigrouptest.CheckRefusal(t, err, 0, "")
	store(t, c, asChannel(t, u, prjA))
	collect(t, c, time.Now().Add(OrphanGrace+time.Second))
	if got := secrets(t, c, prjA, "c1"); len(got) != 1 || string(got[0].Data["password"]) != "three" {
		t.Errorf("after a replace: %+v", got)
	}
}

// Secret header values are checked before they are moved out of the body;
// a secret header's name is a key of the Secret.
func TestAdmitSecretHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    notifyv1.Header
		msg  string
	}{
		{"CR LF in a value", notifyv1.Header{Name: "Authorization", Value: "tok\r\nX-Evil: 1", Secret: true}, "spec.webhook.headers[0].value: a header value holds no CR, LF or NUL"},
		{"NUL in a value", notifyv1.Header{Name: "Authorization", Value: "tok\x00", Secret: true}, "spec.webhook.headers[0].value: a header value holds no CR, LF or NUL"},
		{"a name that is no Secret key", notifyv1.Header{Name: "X~Token", Value: "tok", Secret: true},
			`spec.webhook.headers[0].name "X~Token": a secret header's name is made of letters, digits, -, . and _ only`},
		{"that name, not secret", notifyv1.Header{Name: "X~Token", Value: "tok"}, ""},
		{"a name that is a Secret key", notifyv1.Header{Name: "X-Api.Key_1", Value: "tok", Secret: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t)
			_, err := admit(t, m, pa, "create", prjA, channel("", "c1", "default", webhookSpec("https://hook.example", tc.h)))
			if tc.msg == "" {
				apigrouptest.CheckRefusal(t, err, 0, "")
				return
			}
			apigrouptest.CheckRefusal(t, err, 422, tc.msg)
			noSecret(t, c, prjA, "c1")
		})
	}
}

// A queue that cannot resolve channels (no client) answers 503, as does
// a nil one.
func TestTestSendQueueNotReady(t *testing.T) {
	for _, q := range []Sender{&notifyqueue.Queue{}, (*notifyqueue.Queue)(nil)} {
		m, _ := module(t)
		m.Queue = q
		w := serve(t, m, pa, http.MethodPost, testPath(prjA, "hook"), `{}`)
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "notifications") {
			t.Errorf("%T: %d %s", q, w.Code, w.Body.String())
		}
	}
}
