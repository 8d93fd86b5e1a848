package logagent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// esSink speaks the _bulk API with plain HTTP rather than go-elasticsearch:
// that client refuses servers that do not identify as Elasticsearch, and
// the agent should also feed OpenSearch and ES-compatible stores
// (VictoriaLogs).
type esSink struct {
	urls       []string
	index      string
	user, pass string
	next       int
	hc         *http.Client
}

func newES(e *ESSink, password string) (*esSink, error) {
	s := &esSink{index: e.Index, user: e.Username, pass: password, hc: &http.Client{Timeout: deliveryTimeout}}
	for _, a := range e.Addresses {
		u, err := url.Parse(a)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("elasticsearch address %q: not an http(s) URL", a)
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + "/_bulk"
		u.RawPath = ""
		s.urls = append(s.urls, u.String())
	}
	return s, nil
}

type bulkAction struct {
	Create struct {
		Index string `json:"_index"`
		ID    string `json:"_id"`
	} `json:"create"`
}

type bulkResponse struct {
	Errors bool `json:"errors"`
	Items  []map[string]struct {
		Status int `json:"status"`
		Error  *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
	} `json:"items"`
}

// deliver sends the batch as "create" actions with the line's _id: a line
// sent again (a delivery that timed out after the server stored it) is
// answered 409 and counts as delivered, not stored twice.
func (s *esSink) deliver(ctx context.Context, items []*item) (int, int, error, error) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, it := range items {
		rec, err := it.record()
		if err != nil {
			return 0, 0, nil, err
		}
		var a bulkAction
		a.Create.Index, a.Create.ID = s.index, it.docID(rec.Rule)
		if err := enc.Encode(a); err != nil {
			return 0, 0, nil, err
		}
		body.Write(it.Record)
		body.WriteByte('\n')
	}
	// Try each address once, starting with the one that worked last.
	var lastErr error
	for range s.urls {
		u := s.urls[s.next%len(s.urls)]
		resp, err := s.post(ctx, u, body.Bytes())
		if err == nil {
			return s.result(items, resp)
		}
		var p permanent
		if errors.As(err, &p) {
			return len(items), len(items), p.error, nil
		}
		lastErr = err
		s.next++
		if ctx.Err() != nil {
			break
		}
	}
	return 0, 0, nil, lastErr
}

func (s *esSink) post(ctx context.Context, u string, body []byte) (*bulkResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if s.user != "" {
		req.SetBasicAuth(s.user, s.pass)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		err := fmt.Errorf("%s: %s: %s", redact(u), resp.Status, snippet(b))
		if retryable(resp.StatusCode) {
			return nil, err
		}
		return nil, permanent{err}
	}
	var br bulkResponse
	if err := json.Unmarshal(b, &br); err != nil {
		return nil, fmt.Errorf("%s: reading the _bulk answer: %w", redact(u), err)
	}
	return &br, nil
}

// result turns the per-item answers into how far the batch got: created
// and 409 (stored before) are done, 429 and 5xx stop there to be retried,
// other errors (a mapping conflict) are refused for good.
func (s *esSink) result(items []*item, br *bulkResponse) (int, int, error, error) {
	if !br.Errors {
		return len(items), 0, nil, nil
	}
	rejected := 0
	var rejectErr error
	for i := range items {
		if i >= len(br.Items) {
			return i, rejected, rejectErr, errors.New("_bulk answered fewer items than sent")
		}
		for _, r := range br.Items[i] {
			switch {
			case r.Status/100 == 2 || r.Status == http.StatusConflict:
			case retryable(r.Status):
				reason := ""
				if r.Error != nil {
					reason = r.Error.Type + ": " + r.Error.Reason
				}
				return i, rejected, rejectErr, fmt.Errorf("_bulk item %d: status %d %s", i, r.Status, reason)
			default:
				rejected++
				if r.Error != nil {
					rejectErr = fmt.Errorf("status %d %s: %s", r.Status, r.Error.Type, r.Error.Reason)
				} else {
					rejectErr = fmt.Errorf("status %d", r.Status)
				}
			}
		}
	}
	return len(items), rejected, rejectErr, nil
}

func (s *esSink) close() { s.hc.CloseIdleConnections() }

// retryable: the server may take the same request later. Besides 429 and
// 5xx that is also a refused credential or a wrong path (401, 403, 404),
// which the platform fixes by a new config: dropping the lines then would
// lose them for a typo. Other 4xx refuse the lines themselves.
func retryable(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusUnauthorized,
		http.StatusForbidden, http.StatusNotFound, http.StatusProxyAuthRequired:
		return true
	}
	return code >= 500
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// redact drops user info from a URL for messages.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Redacted()
}
