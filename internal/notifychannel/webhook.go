package notifychannel

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/notifymsg"
)

// DefaultWebhookTimeout is a webhook's timeout when the channel sets none.
const DefaultWebhookTimeout = 10 * time.Second

// userAgent identifies the platform to receivers.
const userAgent = "kstack-notify/1"

func (s *Sender) webhook(ctx context.Context, w *notifyv1.WebhookChannel, secret map[string][]byte, m notifymsg.Message) Result {
	timeout := DefaultWebhookTimeout
	if w.TimeoutSeconds > 0 {
		timeout = time.Duration(w.TimeoutSeconds) * time.Second
	}
	hc, err := s.Dial.HTTPClient([]byte(w.CABundle), timeout)
	if err != nil {
		return failed(0, "webhook caBundle: %v", err)
	}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, strings.NewReader(m.Body))
	if err != nil {
		return failed(0, "webhook URL: %v", err)
	}
	ct := m.ContentType
	if ct == "" {
		ct = notifymsg.ContentJSON
	}
	if !strings.Contains(ct, "charset") {
		ct += "; charset=utf-8"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", userAgent)
	for _, h := range w.Headers {
		v := h.Value
		if h.Secret {
			b, ok := secret[KeyHeaderPrefix+h.Name]
			if !ok {
				return failed(0, "webhook header %s: its secret value is missing from the channel's credentials", h.Name)
			}
			v = string(b)
		}
		req.Header.Set(h.Name, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return classifyHTTPError("webhook", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return classifyHTTPStatus("webhook", resp.StatusCode, body)
}

// classifyHTTPError: refusals by the dial policy and TLS failures are
// permanent; other network errors (refused connections, timeouts, resets)
// are retried.
func classifyHTTPError(what string, err error) Result {
	if refused(err) {
		return failed(0, "%s: %v", what, err)
	}
	if isTLSError(err) {
		return failed(0, "%s: TLS: %v", what, err)
	}
	return retry(0, "%s: %v", what, err)
}

// classifyHTTPStatus: 2xx is delivered; 408, 429 and 5xx are retried; a
// redirect (not followed) and other 4xx fail.
func classifyHTTPStatus(what string, code int, body []byte) Result {
	if code >= 200 && code < 300 {
		return Result{Code: code}
	}
	msg := strings.TrimSpace(string(bytes.ToValidUTF8(body, nil)))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg != "" {
		msg = ": " + msg
	}
	status := http.StatusText(code)
	switch {
	case code >= 300 && code < 400:
		return failed(code, "%s answered %d %s (redirects are not followed; give the final URL)%s", what, code, status, msg)
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return retry(code, "%s answered %d %s%s", what, code, status, msg)
	}
	return failed(code, "%s answered %d %s%s", what, code, status, msg)
}

// isTLSError reports a certificate or handshake failure: trying again will
// not help.
func isTLSError(err error) bool {
	var (
		cve *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		ci  x509.CertificateInvalidError
		rhe tls.RecordHeaderError
		ae  tls.AlertError
	)
	return errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) ||
		errors.As(err, &rhe) || errors.As(err, &ae)
}
