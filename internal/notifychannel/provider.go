package notifychannel

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/notifymsg"
)

// Provider is an SMS or WeChat service's API: one message to one recipient.
// endpoint is the channel's override ("" = the provider's public default),
// params its non-secret settings, key its secret.
type Provider interface {
	Name() string
	Send(ctx context.Context, hc *http.Client, endpoint string, params map[string]string, key []byte, to string, m notifymsg.Message) Result
}

// providerTimeout bounds one provider call.
const providerTimeout = 10 * time.Second

func (s *Sender) provider(ctx context.Context, what string, pc *notifyv1.ProviderChannel, secret map[string][]byte, m notifymsg.Message) Result {
	if pc == nil {
		return failed(0, "channel has no %s settings", what)
	}
	ps := s.Providers
	if ps == nil {
		ps = builtin
	}
	p, ok := ps[pc.Provider]
	if !ok {
		return failed(0, "%s: unknown provider %q; known providers: %s", what, pc.Provider, strings.Join(KnownProviders(), ", "))
	}
	if len(m.To) == 0 {
		return failed(0, "%s: no recipients (the receivers have no %s)", what, map[string]string{"sms": "mobile number", "wechat": "WeChat openID"}[what])
	}
	var hc *http.Client
	if pc.Endpoint != "" {
		// A user-given address: the dial policy applies.
		c, err := s.Dial.HTTPClient(nil, providerTimeout)
		if err != nil {
			return failed(0, "%s: %v", what, err)
		}
		hc = c
	} else {
		// The provider's public API, which the platform chose.
		hc = &http.Client{Timeout: providerTimeout, Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 10 * time.Second}}
	}
	defer hc.CloseIdleConnections()
	// One recipient at a time; the first failure ends the attempt (the
	// queue sends to one receiver per message, so a retry repeats nothing).
	var last Result
	for _, to := range m.To {
		last = p.Send(ctx, hc, pc.Endpoint, pc.Params, secret[KeyProvider], to, m)
		if last.Err != nil {
			return last
		}
	}
	return last
}

// lines are the non-empty lines of a body: a provider template's
// placeholders are filled in order from them.
func lines(body string) []string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func postJSON(ctx context.Context, hc *http.Client, u string, hdr http.Header, body []byte, what string, into any) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return failed(0, "%s: %v", what, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return doJSON(hc, req, what, into)
}

func doJSON(hc *http.Client, req *http.Request, what string, into any) Result {
	req.Header.Set("User-Agent", userAgent)
	resp, err := hc.Do(req)
	if err != nil {
		return classifyHTTPError(what, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if r := classifyHTTPStatus(what, resp.StatusCode, b); r.Err != nil {
		return r
	}
	if err := json.Unmarshal(b, into); err != nil {
		return failed(resp.StatusCode, "%s: unreadable answer: %v", what, err)
	}
	return Result{Code: resp.StatusCode}
}

// TencentCloudSMS sends through Tencent Cloud SMS (API 3.0, SendSms,
// version 2021-01-11, TC3-HMAC-SHA256 signing). Params: secretID,
// sdkAppID, signName, templateID, region (default ap-guangzhou); the key is
// the SecretKey. The template's placeholders are filled with the message
// body's non-empty lines, in order.
type TencentCloudSMS struct {
	// Now is the signing clock (nil: time.Now).
	Now func() time.Time
}

// TencentCloudSMSEndpoint is the public API.
const TencentCloudSMSEndpoint = "https://sms.tencentcloudapi.com"

func (*TencentCloudSMS) Name() string { return "tencentcloud-sms" }

func (t *TencentCloudSMS) Send(ctx context.Context, hc *http.Client, endpoint string, params map[string]string, key []byte, to string, m notifymsg.Message) Result {
	const what = "tencentcloud-sms"
	if endpoint == "" {
		endpoint = TencentCloudSMSEndpoint
	}
	for _, p := range []string{"secretID", "sdkAppID", "signName", "templateID"} {
		if params[p] == "" {
			return failed(0, "%s: params.%s is not set", what, p)
		}
	}
	if len(key) == 0 {
		return failed(0, "%s: the channel has no key (SecretKey)", what)
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return failed(0, "%s: endpoint %q is not a URL", what, endpoint)
	}
	region := params["region"]
	if region == "" {
		region = "ap-guangzhou"
	}
	tp := lines(m.Body)
	if tp == nil {
		tp = []string{}
	}
	payload, _ := json.Marshal(map[string]any{
		"PhoneNumberSet":   []string{to},
		"SmsSdkAppId":      params["sdkAppID"],
		"SignName":         params["signName"],
		"TemplateId":       params["templateID"],
		"TemplateParamSet": tp,
	})
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	ts := now().UTC()
	hdr := http.Header{}
	ct := "application/json; charset=utf-8"
	hdr.Set("Content-Type", ct)
	hdr.Set("X-TC-Action", "SendSms")
	hdr.Set("X-TC-Version", "2021-01-11")
	hdr.Set("X-TC-Region", region)
	hdr.Set("X-TC-Timestamp", strconv.FormatInt(ts.Unix(), 10))
	hdr.Set("Authorization", TC3Authorization(params["secretID"], key, "sms", u.Host, ct, payload, ts))
	var ans struct {
		Response struct {
			Error *struct {
				Code    string
				Message string
			}
			SendStatusSet []struct {
				Code    string
				Message string
			}
			RequestId string
		}
	}
	r := postJSON(ctx, hc, endpoint, hdr, payload, what, &ans)
	if r.Err != nil {
		return r
	}
	if e := ans.Response.Error; e != nil {
		return Result{Code: r.Code, Retry: tcRetry(e.Code), Err: fmt.Errorf("%s: %s: %s (request %s)", what, e.Code, e.Message, ans.Response.RequestId)}
	}
	for _, st := range ans.Response.SendStatusSet {
		if !strings.EqualFold(st.Code, "Ok") {
			return Result{Code: r.Code, Retry: tcRetry(st.Code),
				Err: fmt.Errorf("%s: %s: %s", what, st.Code, st.Message)}
		}
	}
	if len(ans.Response.SendStatusSet) == 0 {
		return failed(r.Code, "%s: the answer has no send status", what)
	}
	return r
}

// tcRetry: internal errors and rate limits pass; a daily limit does not
// within the retry window, authentication and parameter errors never.
func tcRetry(code string) bool {
	switch {
	case strings.HasSuffix(code, "DailyLimit"):
		return false
	case strings.HasPrefix(code, "InternalError"), strings.HasPrefix(code, "RequestLimitExceeded"), strings.HasPrefix(code, "LimitExceeded"):
		return true
	}
	return false
}

// TC3Authorization is Tencent Cloud's TC3-HMAC-SHA256 Authorization header
// for a POST of payload to / on host, signing content-type and host.
func TC3Authorization(secretID string, secretKey []byte, service, host, contentType string, payload []byte, ts time.Time) string {
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	mac := func(k []byte, s string) []byte { h := hmac.New(sha256.New, k); h.Write([]byte(s)); return h.Sum(nil) }
	canonical := "POST\n/\n\ncontent-type:" + contentType + "\nhost:" + host + "\n\ncontent-type;host\n" + sum(payload)
	date := ts.UTC().Format("2006-01-02")
	scope := date + "/" + service + "/tc3_request"
	toSign := "TC3-HMAC-SHA256\n" + strconv.FormatInt(ts.Unix(), 10) + "\n" + scope + "\n" + sum([]byte(canonical))
	k := mac(append([]byte("TC3"), secretKey...), date)
	k = mac(k, service)
	k = mac(k, "tc3_request")
	sig := hex.EncodeToString(mac(k, toSign))
	return "TC3-HMAC-SHA256 Credential=" + secretID + "/" + scope + ", SignedHeaders=content-type;host, Signature=" + sig
}

// WeChatMP sends WeChat Official Account template messages
// (cgi-bin/message/template/send), with an access token from
// cgi-bin/token cached until shortly before it expires. Params: appID,
// templateID, fields (comma-separated template keys filled with the body's
// non-empty lines in order; default "first" for the subject and "remark"
// for the whole body), url (optional link). The key is the AppSecret.
type WeChatMP struct {
	mu sync.Mutex
	// tokens: by endpoint, appID and the secret's hash (an appID is
	// public: another channel naming it with another key must not get
	// this one's token). At most maxWxTokens.
	tokens map[string]wxToken
}

// maxWxTokens bounds the token cache.
const maxWxTokens = 1024

// wxKey is a token's cache key.
func wxKey(base, appID string, secret []byte) string {
	h := sha256.Sum256(secret)
	return base + "\x00" + appID + "\x00" + hex.EncodeToString(h[:])
}

// putToken caches t under k, first dropping expired tokens and, when the
// cache is full, the one that expires first. Holds w.mu.
func (w *WeChatMP) putToken(k string, t wxToken, now time.Time) {
	if w.tokens == nil {
		w.tokens = map[string]wxToken{}
	}
	if _, ok := w.tokens[k]; !ok && len(w.tokens) >= maxWxTokens {
		var (
			first string
			at    time.Time
		)
		for k2, t2 := range w.tokens {
			if !now.Before(t2.expires) {
				delete(w.tokens, k2)
				continue
			}
			if first == "" || t2.expires.Before(at) {
				first, at = k2, t2.expires
			}
		}
		if len(w.tokens) >= maxWxTokens {
			delete(w.tokens, first)
		}
	}
	w.tokens[k] = t
}

type wxToken struct {
	token   string
	expires time.Time
}

// WeChatMPEndpoint is the public API.
const WeChatMPEndpoint = "https://api.weixin.qq.com"

func (*WeChatMP) Name() string { return "wechat-mp" }

type wxAnswer struct {
	ErrCode     int    `json:"errcode"`
	ErrMsg      string `json:"errmsg"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// wxRetry are WeChat's error codes worth trying again: system busy, an
// invalid or expired token (fetched again), call frequency limits.
func wxRetry(code int) bool {
	switch code {
	case -1, 40001, 40014, 42001, 45009, 45011:
		return true
	}
	return false
}

func (w *WeChatMP) token(ctx context.Context, hc *http.Client, base, appID string, secret []byte) (string, Result) {
	k := wxKey(base, appID, secret)
	w.mu.Lock()
	if t, ok := w.tokens[k]; ok && time.Now().Before(t.expires) {
		w.mu.Unlock()
		return t.token, Result{}
	}
	w.mu.Unlock()
	q := url.Values{"grant_type": {"client_credential"}, "appid": {appID}, "secret": {string(secret)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/cgi-bin/token?"+q.Encode(), nil)
	if err != nil {
		return "", failed(0, "wechat-mp: %v", err)
	}
	var ans wxAnswer
	r := doJSON(hc, req, "wechat-mp token", &ans)
	if r.Err != nil {
		// The URL holds the secret; the error must not.
		r.Err = fmt.Errorf("%s", strings.ReplaceAll(r.Err.Error(), url.QueryEscape(string(secret)), "***"))
		return "", r
	}
	if ans.ErrCode != 0 || ans.AccessToken == "" {
		return "", Result{Code: r.Code, Retry: wxRetry(ans.ErrCode) && ans.ErrCode != 40001,
			Err: fmt.Errorf("wechat-mp: getting an access token: errcode %d: %s", ans.ErrCode, ans.ErrMsg)}
	}
	life := time.Duration(ans.ExpiresIn) * time.Second
	if life <= 0 {
		life = 7200 * time.Second
	}
	now := time.Now()
	w.mu.Lock()
	w.putToken(k, wxToken{token: ans.AccessToken, expires: now.Add(life - min(life/10, 5*time.Minute))}, now)
	w.mu.Unlock()
	return ans.AccessToken, Result{}
}

func (w *WeChatMP) Send(ctx context.Context, hc *http.Client, endpoint string, params map[string]string, key []byte, to string, m notifymsg.Message) Result {
	base := strings.TrimRight(endpoint, "/")
	if base == "" {
		base = WeChatMPEndpoint
	}
	for _, p := range []string{"appID", "templateID"} {
		if params[p] == "" {
			return failed(0, "wechat-mp: params.%s is not set", p)
		}
	}
	if len(key) == 0 {
		return failed(0, "wechat-mp: the channel has no key (AppSecret)")
	}
	tok, r := w.token(ctx, hc, base, params["appID"], key)
	if r.Err != nil {
		return r
	}
	data := map[string]map[string]string{}
	if f := strings.TrimSpace(params["fields"]); f != "" {
		ls := lines(m.Body)
		for i, name := range strings.Split(f, ",") {
			v := ""
			if i < len(ls) {
				v = ls[i]
			}
			data[strings.TrimSpace(name)] = map[string]string{"value": v}
		}
	} else {
		data["first"] = map[string]string{"value": m.Subject}
		data["remark"] = map[string]string{"value": m.Body}
	}
	msg := map[string]any{"touser": to, "template_id": params["templateID"], "data": data}
	if params["url"] != "" {
		msg["url"] = params["url"]
	}
	body, _ := json.Marshal(msg)
	var ans wxAnswer
	r = postJSON(ctx, hc, base+"/cgi-bin/message/template/send?access_token="+url.QueryEscape(tok), nil, body, "wechat-mp", &ans)
	if r.Err != nil {
		r.Err = fmt.Errorf("%s", strings.ReplaceAll(r.Err.Error(), url.QueryEscape(tok), "***"))
		return r
	}
	if ans.ErrCode != 0 {
		if ans.ErrCode == 40001 || ans.ErrCode == 40014 || ans.ErrCode == 42001 {
			w.mu.Lock()
			delete(w.tokens, wxKey(base, params["appID"], key))
			w.mu.Unlock()
		}
		return Result{Code: r.Code, Retry: wxRetry(ans.ErrCode), Err: fmt.Errorf("wechat-mp: errcode %d: %s", ans.ErrCode, ans.ErrMsg)}
	}
	return r
}
