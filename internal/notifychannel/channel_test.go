package notifychannel

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/dialcheck"
	"github.com/kstack/kstack/internal/notifymsg"
	"github.com/kstack/kstack/internal/testutil/hooktest"
	"github.com/kstack/kstack/internal/testutil/smtptest"
)

// loopbackOK is the policy tests run with: their servers are on loopback.
var loopbackOK = &dialcheck.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

func webhookChannel(url string, headers ...notifyv1.Header) *Resolved {
	return &Resolved{Channel: &notifyv1.Channel{Spec: notifyv1.ChannelSpec{Type: notifyv1.ChannelWebhook,
		Webhook: &notifyv1.WebhookChannel{URL: url, Headers: headers, TimeoutSeconds: 1}}}}
}

func TestWebhook(t *testing.T) {
	hook := hooktest.Start(t, hooktest.Options{})
	s := &Sender{Dial: loopbackOK}
	ch := webhookChannel(hook.URL()+"/alarms",
		notifyv1.Header{Name: "X-Team", Value: "ops"},
		notifyv1.Header{Name: "Authorization", Secret: true})
	ch.Secret = map[string][]byte{"header.Authorization": []byte("Bearer s3cret")}
	r := s.Send(context.Background(), ch, notifymsg.Message{ChannelType: "webhook", Body: `{"status":"firing"}`})
	if r.Err != nil || r.Code != 200 {
		t.Fatalf("send: %+v", r)
	}
	got := hook.Wait(t, 1, 5*time.Second)[0]
	if string(got.Body) != `{"status":"firing"}` || got.Path != "/hook/alarms" || got.Method != "POST" ||
		got.Header.Get("X-Team") != "ops" || got.Header.Get("Authorization") != "Bearer s3cret" ||
		got.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("received %+v", got)
	}
	// text/plain
	if r := s.Send(context.Background(), ch, notifymsg.Message{Body: "hi", ContentType: "text/plain"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := hook.Wait(t, 2, 5*time.Second)[1]; got.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("content type %q", got.Header.Get("Content-Type"))
	}
	// A secret header whose value is missing fails, without sending.
	ch.Secret = nil
	if r := s.Send(context.Background(), ch, notifymsg.Message{Body: "{}"}); r.Err == nil || r.Retry {
		t.Fatalf("missing secret header: %+v", r)
	}
}

func TestWebhookClassification(t *testing.T) {
	hook := hooktest.Start(t, hooktest.Options{})
	s := &Sender{Dial: loopbackOK}
	for _, tt := range []struct {
		status int
		retry  bool
	}{
		{500, true}, {503, true}, {408, true}, {429, true},
		{400, false}, {401, false}, {404, false}, {302, false},
	} {
		hook.SetStatus(tt.status)
		r := s.Send(context.Background(), webhookChannel(hook.URL()), notifymsg.Message{Body: "{}"})
		if r.Err == nil || r.Retry != tt.retry || r.Code != tt.status {
			t.Errorf("status %d: %+v, want retry %v", tt.status, r, tt.retry)
		}
	}
	// A timeout is retried.
	hook.SetStatus(200)
	hook.SetDelay(2 * time.Second)
	r := s.Send(context.Background(), webhookChannel(hook.URL()), notifymsg.Message{Body: "{}"})
	if r.Err == nil || !r.Retry {
		t.Fatalf("timeout: %+v", r)
	}
	// Nothing listening: retried.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if r := s.Send(context.Background(), webhookChannel(url), notifymsg.Message{Body: "{}"}); r.Err == nil || !r.Retry {
		t.Fatalf("connection refused: %+v", r)
	}
}

func TestWebhookTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	s := &Sender{Dial: loopbackOK}
	// Unknown CA: failed, not retried.
	r := s.Send(context.Background(), webhookChannel(srv.URL), notifymsg.Message{Body: "{}"})
	if r.Err == nil || r.Retry || !strings.Contains(r.Err.Error(), "certificate") {
		t.Fatalf("unknown CA: %+v", r)
	}
}

func TestDialRefusedAtConnect(t *testing.T) {
	hook := hooktest.Start(t, hooktest.Options{})
	s := &Sender{Dial: &dialcheck.Policy{}} // nothing allowed: loopback is refused
	r := s.Send(context.Background(), webhookChannel(hook.URL()), notifymsg.Message{Body: "{}"})
	if r.Err == nil || r.Retry || !strings.Contains(r.Err.Error(), "loopback") {
		t.Fatalf("webhook on loopback: %+v", r)
	}
	// Also through a name, as a rebinding name would resolve now.
	r = s.Send(context.Background(), webhookChannel(strings.Replace(hook.URL(), "127.0.0.1", "localhost", 1)), notifymsg.Message{Body: "{}"})
	if r.Err == nil || r.Retry || !strings.Contains(r.Err.Error(), "loopback") {
		t.Fatalf("webhook on localhost: %+v", r)
	}
	if n := len(hook.Received()); n != 0 {
		t.Fatalf("the hook received %d requests", n)
	}
	mail := smtptest.Start(t, smtptest.Options{})
	r = s.Send(context.Background(), emailChannel(mail, TLSStartTLS, "", ""), mailMsg())
	if r.Err == nil || r.Retry || !strings.Contains(r.Err.Error(), "loopback") {
		t.Fatalf("smtp on loopback: %+v", r)
	}
}

func emailChannel(srv *smtptest.Server, mode, user, password string) *Resolved {
	return &Resolved{
		Channel: &notifyv1.Channel{Spec: notifyv1.ChannelSpec{Type: notifyv1.ChannelEmail, Email: &notifyv1.EmailChannel{
			SMTPHost: srv.Host(), SMTPPort: int32(srv.Port()), TLS: mode, From: "Alarms <alarms@example.com>",
			Username: user, CABundle: srv.CAPEM()}}},
		Secret: map[string][]byte{KeyPassword: []byte(password)},
	}
}

func mailMsg() notifymsg.Message {
	return notifymsg.Message{ChannelType: "email", To: []string{"ops@example.com"}, Subject: "[firing] CPU high — 节点", Body: "cpu is 93%\nnode n1"}
}

func TestSMTP(t *testing.T) {
	s := &Sender{Dial: loopbackOK}
	for _, mode := range []string{TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{TLS: mode, Username: "alarms", Password: "pw"})
			r := s.Send(context.Background(), emailChannel(srv, mode, "alarms", "pw"), mailMsg())
			if r.Err != nil || r.Code != 250 {
				t.Fatalf("send: %+v", r)
			}
			m := srv.Wait(t, 1, 5*time.Second)[0]
			if m.From != "alarms@example.com" || len(m.To) != 1 || m.To[0] != "ops@example.com" ||
				m.Subject != "[firing] CPU high — 节点" || !strings.Contains(m.Body, "cpu is 93%") || !strings.Contains(m.Body, "node n1") {
				t.Fatalf("received %+v", m)
			}
			if a := srv.Auths(); len(a) != 1 || a[0] != "alarms" {
				t.Fatalf("auths %v", a)
			}
		})
	}
}

func TestSMTPFailures(t *testing.T) {
	s := &Sender{Dial: loopbackOK}
	t.Run("auth refused", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{Username: "alarms", Password: "pw", RefuseAuth: true})
		r := s.Send(context.Background(), emailChannel(srv, TLSStartTLS, "alarms", "pw"), mailMsg())
		if r.Err == nil || r.Retry || r.Code != 535 || !strings.HasPrefix(r.Err.Error(), "SMTP server refused authentication: 535 ") {
			t.Fatalf("%+v", r)
		}
		t.Log(r.Err)
	})
	t.Run("wrong password", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{Username: "alarms", Password: "pw"})
		r := s.Send(context.Background(), emailChannel(srv, TLSStartTLS, "alarms", "nope"), mailMsg())
		if r.Err == nil || r.Retry || r.Code != 535 || strings.Contains(r.Err.Error(), "nope") {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("no STARTTLS", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{TLS: smtptest.None})
		r := s.Send(context.Background(), emailChannel(srv, TLSStartTLS, "", ""), mailMsg())
		if r.Err == nil || r.Retry || !strings.Contains(r.Err.Error(), "does not offer STARTTLS") {
			t.Fatalf("%+v", r)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("%d messages sent in the clear", n)
		}
	})
	t.Run("unknown CA", func(t *testing.T) {
		for _, mode := range []string{TLSStartTLS, TLSImplicit} {
			srv := smtptest.Start(t, smtptest.Options{TLS: mode})
			ch := emailChannel(srv, mode, "", "")
			ch.Channel.Spec.Email.CABundle = ""
			r := s.Send(context.Background(), ch, mailMsg())
			if r.Err == nil || r.Retry || !strings.Contains(r.Err.Error(), "certificate") {
				t.Fatalf("%s: %+v", mode, r)
			}
		}
	})
	t.Run("implicit TLS to a STARTTLS server", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{})
		r := s.Send(context.Background(), emailChannel(srv, TLSImplicit, "", ""), mailMsg())
		if r.Err == nil || r.Retry {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("no recipients", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{})
		m := mailMsg()
		m.To = nil
		if r := s.Send(context.Background(), emailChannel(srv, TLSStartTLS, "", ""), m); r.Err == nil || r.Retry {
			t.Fatalf("%+v", r)
		}
	})
}

func TestTencentCloudSMS(t *testing.T) {
	var (
		mu   sync.Mutex
		reqs []*http.Request
		body []byte
		ans  = `{"Response":{"SendStatusSet":[{"Code":"Ok","Message":"send success"}],"RequestId":"r1"}}`
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		reqs = append(reqs, r)
		body, _ = io.ReadAll(r.Body)
		io.WriteString(w, ans)
	}))
	defer srv.Close()
	now := time.Unix(1700000000, 0)
	s := &Sender{Dial: loopbackOK, Providers: map[string]Provider{"tencentcloud-sms": &TencentCloudSMS{Now: func() time.Time { return now }}}}
	ch := &Resolved{Channel: &notifyv1.Channel{Spec: notifyv1.ChannelSpec{Type: notifyv1.ChannelSMS, SMS: &notifyv1.ProviderChannel{
		Provider: "tencentcloud-sms", Endpoint: srv.URL,
		Params: map[string]string{"secretID": "AKID1", "sdkAppID": "1400000000", "signName": "kstack", "templateID": "123"}}}},
		Secret: map[string][]byte{KeyProvider: []byte("sk")}}
	m := notifymsg.Message{ChannelType: "sms", To: []string{"+8613800000000"}, Body: "CPU high\n\nnode n1\n"}
	if r := s.Send(context.Background(), ch, m); r.Err != nil {
		t.Fatalf("send: %+v", r)
	}
	req := reqs[0]
	if req.Header.Get("X-TC-Action") != "SendSms" || req.Header.Get("X-TC-Version") != "2021-01-11" ||
		req.Header.Get("X-TC-Region") != "ap-guangzhou" || req.Header.Get("X-TC-Timestamp") != "1700000000" {
		t.Fatalf("headers %v", req.Header)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	if want := TC3Authorization("AKID1", []byte("sk"), "sms", host, "application/json; charset=utf-8", body, now); req.Header.Get("Authorization") != want {
		t.Fatalf("authorization %q, want %q", req.Header.Get("Authorization"), want)
	}
	if !strings.HasPrefix(req.Header.Get("Authorization"), "TC3-HMAC-SHA256 Credential=AKID1/2023-11-14/sms/tc3_request, SignedHeaders=content-type;host, Signature=") {
		t.Fatalf("authorization %q", req.Header.Get("Authorization"))
	}
	var sent struct {
		PhoneNumberSet   []string
		SmsSdkAppId      string
		TemplateParamSet []string
	}
	if err := json.Unmarshal(body, &sent); err != nil || sent.PhoneNumberSet[0] != "+8613800000000" || sent.SmsSdkAppId != "1400000000" ||
		strings.Join(sent.TemplateParamSet, "|") != "CPU high|node n1" {
		t.Fatalf("body %s", body)
	}
	if strings.Contains(string(body), "sk") && strings.Contains(string(body), `"sk"`) {
		t.Fatal("the key is in the body")
	}
	// Errors: auth fails, limits retry.
	ans = `{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad signature"},"RequestId":"r2"}}`
	if r := s.Send(context.Background(), ch, m); r.Err == nil || r.Retry || !strings.Contains(r.Err.Error(), "AuthFailure.SignatureFailure") {
		t.Fatalf("auth failure: %+v", r)
	}
	ans = `{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"slow down"},"RequestId":"r3"}}`
	if r := s.Send(context.Background(), ch, m); r.Err == nil || !r.Retry {
		t.Fatalf("limit: %+v", r)
	}
	ans = `{"Response":{"SendStatusSet":[{"Code":"InvalidParameterValue.IncorrectPhoneNumber","Message":"bad number"}],"RequestId":"r4"}}`
	if r := s.Send(context.Background(), ch, m); r.Err == nil || r.Retry {
		t.Fatalf("bad number: %+v", r)
	}
	// A user-given endpoint goes through the dial policy.
	s.Dial = &dialcheck.Policy{}
	if r := s.Send(context.Background(), ch, m); r.Err == nil || r.Retry || !strings.Contains(r.Err.Error(), "loopback") {
		t.Fatalf("endpoint on loopback: %+v", r)
	}
}

func TestWeChatMP(t *testing.T) {
	var (
		mu       sync.Mutex
		tokens   int
		sends    []map[string]any
		sendCode = 0
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/cgi-bin/token":
			if r.URL.Query().Get("secret") != "appsecret" || r.URL.Query().Get("appid") != "wx1" {
				io.WriteString(w, `{"errcode":40125,"errmsg":"invalid appsecret"}`)
				return
			}
			tokens++
			io.WriteString(w, `{"access_token":"tok`+string(rune('0'+tokens))+`","expires_in":7200}`)
		case "/cgi-bin/message/template/send":
			var m map[string]any
			json.NewDecoder(r.Body).Decode(&m)
			m["token"] = r.URL.Query().Get("access_token")
			sends = append(sends, m)
			if sendCode != 0 {
				io.WriteString(w, `{"errcode":`+itoa(sendCode)+`,"errmsg":"nope"}`)
				return
			}
			io.WriteString(w, `{"errcode":0,"errmsg":"ok","msgid":1}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	s := &Sender{Dial: loopbackOK, Providers: map[string]Provider{"wechat-mp": &WeChatMP{}}}
	ch := &Resolved{Channel: &notifyv1.Channel{Spec: notifyv1.ChannelSpec{Type: notifyv1.ChannelWeChat, WeChat: &notifyv1.ProviderChannel{
		Provider: "wechat-mp", Endpoint: srv.URL, Params: map[string]string{"appID": "wx1", "templateID": "tpl", "fields": "first,keyword1"}}}},
		Secret: map[string][]byte{KeyProvider: []byte("appsecret")}}
	m := notifymsg.Message{ChannelType: "wechat", To: []string{"openid-1"}, Subject: "s", Body: "CPU high\nnode n1\nignored"}
	for i := 0; i < 2; i++ {
		if r := s.Send(context.Background(), ch, m); r.Err != nil {
			t.Fatalf("send %d: %+v", i, r)
		}
	}
	if tokens != 1 || len(sends) != 2 || sends[0]["touser"] != "openid-1" || sends[0]["template_id"] != "tpl" || sends[1]["token"] != "tok1" {
		t.Fatalf("tokens %d sends %v", tokens, sends)
	}
	data := sends[0]["data"].(map[string]any)
	if data["first"].(map[string]any)["value"] != "CPU high" || data["keyword1"].(map[string]any)["value"] != "node n1" {
		t.Fatalf("data %v", data)
	}
	// An expired token is retried and fetched again.
	sendCode = 42001
	if r := s.Send(context.Background(), ch, m); r.Err == nil || !r.Retry {
		t.Fatalf("expired token: %+v", r)
	}
	sendCode = 0
	if r := s.Send(context.Background(), ch, m); r.Err != nil || tokens != 2 {
		t.Fatalf("after expiry: %+v, %d tokens", r, tokens)
	}
	sendCode = 43004 // the user does not follow the account
	if r := s.Send(context.Background(), ch, m); r.Err == nil || r.Retry {
		t.Fatalf("43004: %+v", r)
	}
	// A wrong secret fails and is not echoed.
	ch.Secret[KeyProvider] = []byte("wrong")
	s.Providers["wechat-mp"] = &WeChatMP{}
	if r := s.Send(context.Background(), ch, m); r.Err == nil || r.Retry || strings.Contains(r.Err.Error(), "wrong") {
		t.Fatalf("wrong secret: %+v", r)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestUnknownProvider(t *testing.T) {
	s := &Sender{}
	ch := &Resolved{Channel: &notifyv1.Channel{Spec: notifyv1.ChannelSpec{Type: notifyv1.ChannelSMS, SMS: &notifyv1.ProviderChannel{Provider: "x"}}}}
	r := s.Send(context.Background(), ch, notifymsg.Message{To: []string{"1"}})
	if r.Err == nil || r.Retry || !strings.Contains(r.Err.Error(), "known providers: tencentcloud-sms, wechat-mp") {
		t.Fatalf("%+v", r)
	}
}

func TestSecretNameAndResolve(t *testing.T) {
	if n := SecretName("prj-a", "chn-1"); n != "channel-prj-a-chn-1" {
		t.Fatal(n)
	}
	long := Versioned(strings.Repeat("n", 63), strings.Repeat("c", 250), "0123456789abcdef")
	if len(long) > 253 || long == Versioned(strings.Repeat("n", 63), strings.Repeat("c", 249)+"d", "0123456789abcdef") || !strings.HasSuffix(long, "-01234567") {
		t.Fatalf("long name %q", long)
	}
	for _, tc := range []struct {
		secret string
		own    bool
	}{
		{"channel-prj-a-c-0123abcd", true},
		{"channel-prj-a-c", false},            // unversioned
		{"channel-prj-a-c-d-0123abcd", false}, // channel c-d's
		{"channel-prj-a-c-0123ABCD", false},
		{"channel-prj-a-c-0123abc", false},
		{"kstack-ca", false},
	} {
		if got := OwnSecret("prj-a", "c", tc.secret); got != tc.own {
			t.Errorf("OwnSecret(prj-a, c, %s) = %v", tc.secret, got)
		}
	}
	sch := runtime.NewScheme()
	_ = corev1.AddToScheme(sch)
	_ = notifyv1.AddToScheme(sch)
	good := &notifyv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-a", Name: "c"},
		Spec: notifyv1.ChannelSpec{Type: "email", CredentialsSecret: "channel-prj-a-c-0123abcd"}}
	other := &notifyv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-a", Name: "thief"},
		Spec: notifyv1.ChannelSpec{Type: "email", CredentialsSecret: "channel-prj-b-c-0123abcd"}}
	plain := &notifyv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-a", Name: "plain"}, Spec: notifyv1.ChannelSpec{Type: "webhook"}}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: SystemNamespace, Name: "channel-prj-a-c-0123abcd",
		Labels: map[string]string{LabelChannel: "prj-a.c"}}, Data: map[string][]byte{"password": []byte("pw")}}
	c := fake.NewClientBuilder().WithScheme(sch).WithObjects(good, other, plain, sec).Build()
	ctx := context.Background()
	r, err := Resolve(ctx, c, types.NamespacedName{Namespace: "prj-a", Name: "c"})
	if err != nil || string(r.Secret["password"]) != "pw" {
		t.Fatalf("resolve: %+v, %v", r, err)
	}
	if _, err := Resolve(ctx, c, types.NamespacedName{Namespace: "prj-a", Name: "thief"}); err == nil {
		t.Fatal("another channel's Secret was used")
	}
	if r, err := Resolve(ctx, c, types.NamespacedName{Namespace: "prj-a", Name: "plain"}); err != nil || r.Secret != nil {
		t.Fatalf("no secret: %+v, %v", r, err)
	}
	if _, err := Resolve(ctx, c, types.NamespacedName{Namespace: "prj-a", Name: "none"}); err == nil {
		t.Fatal("a missing channel resolved")
	}
}
