package promapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/kstack/kstack/internal/metricstore"
)

var base = time.Unix(1_700_000_000, 0) // 2023-11-14T22:13:20Z

var (
	admin = &metricstore.Scope{All: true}
	ownA  = &metricstore.Scope{Namespaces: map[metricstore.ClusterNamespace]bool{{Cluster: "c1", Namespace: "a"}: true}}
)

func newAPI(t *testing.T) *API {
	t.Helper()
	s, err := metricstore.Open(metricstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	app := s.Appender(context.Background())
	for i, l := range []labels.Labels{
		labels.FromStrings("__name__", "x", "cluster", "c1", "namespace", "a", "pod", "p1"),
		labels.FromStrings("__name__", "y", "cluster", "c1", "namespace", "a", "pod", "p1"),
		labels.FromStrings("__name__", "x", "cluster", "c1", "namespace", "b", "pod", "p2"),
		labels.FromStrings("__name__", "x", "cluster", "c2", "namespace", "a", "pod", "p3", "only_c2", "1"),
		labels.FromStrings("__name__", "kstack_gateway_requests_total", "code", "200"),
	} {
		for m := 0; m <= 10; m++ {
			ts := base.Add(time.Duration(m-10) * time.Minute).UnixMilli()
			if _, err := app.Append(0, l, ts, float64((i+1)*100+m)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return &API{Store: s, Now: func() time.Time { return base }}
}

// call asks the API by GET (params in the URL) or POST (params in a form body).
func call(t *testing.T, a *API, method, path string, params url.Values, sc *metricstore.Scope) (int, string) {
	t.Helper()
	var r *http.Request
	if method == http.MethodPost {
		r = httptest.NewRequest(method, path, strings.NewReader(params.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, path+"?"+params.Encode(), nil)
	}
	w := httptest.NewRecorder()
	a.Serve(w, r, path, sc)
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return w.Code, w.Body.String()
}

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestExactShapes(t *testing.T) {
	a := newAPI(t)
	cases := []struct {
		name, path string
		params     url.Values
		want       string
	}{
		{"grafana health check", "/api/v1/query", vals("query", "1+1"),
			`{"status":"success","data":{"resultType":"scalar","result":[1700000000,"2"]}}`},
		{"scalar at a fractional time", "/api/v1/query", vals("query", "1+1", "time", "1700000000.25"),
			`{"status":"success","data":{"resultType":"scalar","result":[1700000000.25,"2"]}}`},
		{"vector", "/api/v1/query", vals("query", `x{cluster="c1", namespace="a"}`, "time", "1700000000"),
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"x","cluster":"c1","namespace":"a","pod":"p1"},"value":[1700000000,"110"]}]}}`},
		{"empty vector is a list", "/api/v1/query", vals("query", `nothing_here`),
			`{"status":"success","data":{"resultType":"vector","result":[]}}`},
		{"vector without name", "/api/v1/query", vals("query", `sum(x{cluster="c1", namespace="a"})`, "time", "2023-11-14T22:13:20Z"),
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"110"]}]}}`},
		{"matrix", "/api/v1/query_range", vals("query", `x{pod="p1"}`, "start", "1699999880", "end", "1700000000", "step", "1m"),
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"x","cluster":"c1","namespace":"a","pod":"p1"},"values":[[1699999880,"108"],[1699999940,"109"],[1700000000,"110"]]}]}}`},
		{"matrix, step in float seconds, sub-second times", "/api/v1/query_range", vals("query", `1`, "start", "1700000000.1", "end", "1700000001", "step", "0.45"),
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1700000000.1,"1"],[1700000000.55,"1"],[1700000001,"1"]]}]}}`},
		{"string", "/api/v1/query", vals("query", `"hello"`),
			`{"status":"success","data":{"resultType":"string","result":[1700000000,"hello"]}}`},
		{"special floats", "/api/v1/query", vals("query", `vector(1/0) or label_replace(vector(-1/0), "a", "1", "", "") or label_replace(vector(0/0), "a", "2", "", "") or label_replace(vector(0.1+0.2), "a", "3", "", "")`),
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"+Inf"]},{"metric":{"a":"1"},"value":[1700000000,"-Inf"]},{"metric":{"a":"2"},"value":[1700000000,"NaN"]},{"metric":{"a":"3"},"value":[1700000000,"0.30000000000000004"]}]}}`},
		{"large and negative", "/api/v1/query", vals("query", `-1e21`, "time", "-1.5"),
			`{"status":"success","data":{"resultType":"scalar","result":[-1.5,"-1000000000000000000000"]}}`},
		{"buildinfo", "/api/v1/status/buildinfo", nil, ""},
		{"metadata", "/api/v1/metadata", nil, `{"status":"success","data":{}}`},
	}
	for _, c := range cases {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			code, body := call(t, a, m, c.path, c.params, admin)
			if code != http.StatusOK {
				t.Errorf("%s %s: %d %s", m, c.name, code, body)
				continue
			}
			if c.want != "" && body != c.want {
				t.Errorf("%s %s:\n got %s\nwant %s", m, c.name, body, c.want)
			}
		}
	}
	if _, body := call(t, a, http.MethodGet, "/api/v1/status/buildinfo", nil, nil); !strings.Contains(body, `"version":"3.16.0"`) {
		t.Errorf("buildinfo: %s", body)
	}
}

type errAnswer struct {
	Status, ErrorType, Error string
}

func wantError(t *testing.T, what string, code int, body string, wantCode int, wantType, wantMsg string) {
	t.Helper()
	var e errAnswer
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("%s: %v: %s", what, err, body)
	}
	if code != wantCode || e.Status != "error" || e.ErrorType != wantType || !strings.Contains(e.Error, wantMsg) {
		t.Errorf("%s: %d %s, want %d %s containing %q", what, code, body, wantCode, wantType, wantMsg)
	}
}

func TestBadInput(t *testing.T) {
	a := newAPI(t)
	_, perr := parser.NewParser(parser.Options{}).ParseExpr("sum(x")
	cases := []struct {
		name, path string
		params     url.Values
		code       int
		typ, msg   string
	}{
		{"parse error", "/api/v1/query", vals("query", "sum(x"), 400, "bad_data", perr.Error()},
		{"parse error in range", "/api/v1/query_range", vals("query", "x{", "start", "0", "end", "60", "step", "15"), 400, "bad_data", "parse error"},
		{"no query", "/api/v1/query", nil, 400, "bad_data", "query"},
		{"time garbage", "/api/v1/query", vals("query", "1", "time", "yesterday"), 400, "bad_data", `invalid parameter "time"`},
		{"time NaN", "/api/v1/query", vals("query", "1", "time", "NaN"), 400, "bad_data", `invalid parameter "time"`},
		{"time Inf", "/api/v1/query", vals("query", "1", "time", "+Inf"), 400, "bad_data", `invalid parameter "time"`},
		{"time out of range", "/api/v1/query", vals("query", "1", "time", "1e20"), 400, "bad_data", "out of range"},
		{"bad month", "/api/v1/query", vals("query", "1", "time", "2024-13-01T00:00:00Z"), 400, "bad_data", `invalid parameter "time"`},
		{"missing start", "/api/v1/query_range", vals("query", "1", "end", "60", "step", "15"), 400, "bad_data", `"start": missing`},
		{"missing step", "/api/v1/query_range", vals("query", "1", "start", "0", "end", "60"), 400, "bad_data", `"step": missing`},
		{"end before start", "/api/v1/query_range", vals("query", "1", "start", "60", "end", "0", "step", "15"), 400, "bad_data", "end timestamp must not be before start time"},
		{"zero step", "/api/v1/query_range", vals("query", "1", "start", "0", "end", "60", "step", "0"), 400, "bad_data", "zero or negative query resolution step"},
		{"negative step", "/api/v1/query_range", vals("query", "1", "start", "0", "end", "60", "step", "-15s"), 400, "bad_data", "step"},
		{"garbage step", "/api/v1/query_range", vals("query", "1", "start", "0", "end", "60", "step", "often"), 400, "bad_data", `invalid parameter "step"`},
		{"too many points", "/api/v1/query_range", vals("query", "1", "start", "0", "end", "2592000", "step", "1"), 400, "bad_data",
			"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX): this range needs step=236s or more"},
		{"one step too many", "/api/v1/query_range", vals("query", "1", "start", "0", "end", "11001", "step", "1"), 400, "bad_data", "11,000"},
		{"garbage timeout", "/api/v1/query", vals("query", "1", "timeout", "soon"), 400, "bad_data", `invalid parameter "timeout"`},
		{"duplicate series", "/api/v1/query", vals("query", `label_replace({__name__=~"x|y", namespace="a"}, "__name__", "z", "", "")`), 422, "execution", "same labelset"},
		{"series needs match[]", "/api/v1/series", nil, 400, "bad_data", "no match[]"},
		{"bad match[]", "/api/v1/series", vals("match[]", "x{"), 400, "bad_data", "match[]"},
		{"match[] selecting everything", "/api/v1/labels", vals("match[]", "{}"), 400, "bad_data", "match[]"},
		{"match[] of empty matchers", "/api/v1/series", vals("match[]", `{a=""}`), 400, "bad_data", "match[]"},
		{"bad series start", "/api/v1/series", vals("match[]", "x", "start", "then"), 400, "bad_data", `"start"`},
		{"bad limit", "/api/v1/labels", vals("limit", "-1"), 400, "bad_data", "limit"},
		{"bad label name", "/api/v1/label/U__\xff/values", nil, 400, "bad_data", "invalid label name"},
		{"unknown path", "/api/v1/nothing", nil, 404, "not_found", "/api/v1/nothing"},
	}
	for _, c := range cases {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			code, body := call(t, a, m, c.path, c.params, admin)
			wantError(t, m+" "+c.name, code, body, c.code, c.typ, c.msg)
		}
	}
	// Exactly the limit is allowed: Grafana picks step = range/11000.
	if code, body := call(t, a, http.MethodGet, "/api/v1/query_range", vals("query", "1", "start", "0", "end", "11000", "step", "1"), admin); code != 200 {
		t.Errorf("11,000 steps refused: %s", body)
	}
	r := httptest.NewRequest(http.MethodPut, "/api/v1/query?query=1", nil)
	w := httptest.NewRecorder()
	a.Serve(w, r, "/api/v1/query", admin)
	wantError(t, "PUT", w.Code, w.Body.String(), 405, "method_not_allowed", "PUT")
	if w.Header().Get("Allow") != "GET, POST" {
		t.Errorf("Allow = %q", w.Header().Get("Allow"))
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	a := newAPI(t)
	// A subquery of millions of steps outlasts a millisecond on any machine
	// (a cheap query could finish before its deadline is ever checked).
	code, body := call(t, a, http.MethodGet, "/api/v1/query", vals("query", "count_over_time(x[100d:1s])", "timeout", "0.001"), admin)
	// The engine words it by where the deadline struck ("query timed out
	// in ...", "expanding series: context deadline exceeded"): the type and
	// status are what clients read.
	wantError(t, "timeout", code, body, 503, "timeout", "")
	if !strings.Contains(body, "timed out") && !strings.Contains(body, "deadline exceeded") {
		t.Errorf("timeout: %s does not say the query ran out of time", body)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest(http.MethodGet, "/api/v1/query?query=x", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	a.Serve(w, r, "/api/v1/query", admin)
	wantError(t, "canceled", w.Code, w.Body.String(), 499, "canceled", "canceled")
}

func TestAnnotations(t *testing.T) {
	a := newAPI(t)
	var ans struct {
		Status          string
		Warnings, Infos []string
	}
	_, body := call(t, a, http.MethodGet, "/api/v1/query", vals("query", `rate(y[5m])`), admin)
	json.Unmarshal([]byte(body), &ans)
	if ans.Status != "success" || len(ans.Infos) == 0 || !strings.Contains(ans.Infos[0], "might not be a counter") {
		t.Errorf("rate of a gauge: %s", body)
	}
	ans.Warnings = nil
	_, body = call(t, a, http.MethodGet, "/api/v1/query", vals("query", `histogram_quantile(0.5, y)`), admin)
	json.Unmarshal([]byte(body), &ans)
	if ans.Status != "success" || len(ans.Warnings) == 0 || !strings.Contains(ans.Warnings[0], `"le"`) {
		t.Errorf("quantile without le: %s", body)
	}
}

func TestScopedEndpoints(t *testing.T) {
	a := newAPI(t)
	list := func(sc *metricstore.Scope, path string, params url.Values) []string {
		t.Helper()
		code, body := call(t, a, http.MethodPost, path, params, sc)
		var ans struct {
			Status string
			Data   json.RawMessage
		}
		if err := json.Unmarshal([]byte(body), &ans); err != nil || code != 200 || ans.Status != "success" {
			t.Fatalf("%s %v: %d %s", path, params, code, body)
		}
		out := []string{}
		if path == "/api/v1/series" {
			var ms []map[string]string
			if err := json.Unmarshal(ans.Data, &ms); err != nil || ms == nil {
				t.Fatalf("%s: data %s is not a list of label sets", path, ans.Data)
			}
			for _, m := range ms {
				b, _ := json.Marshal(m)
				out = append(out, string(b))
			}
			return out
		}
		if err := json.Unmarshal(ans.Data, &out); err != nil || out == nil {
			t.Fatalf("%s: data %s is not a list", path, ans.Data)
		}
		return out
	}
	all := `{__name__=~".+"}`
	own := `{"__name__":"x","cluster":"c1","namespace":"a","pod":"p1"}`
	ownY := `{"__name__":"y","cluster":"c1","namespace":"a","pod":"p1"}`
	checks := []struct {
		what      string
		got, want []string
	}{
		{"series of everything", list(ownA, "/api/v1/series", vals("match[]", all)), []string{own, ownY}},
		{"series of c2", list(ownA, "/api/v1/series", vals("match[]", `{cluster="c2"}`)), []string{}},
		{"series of b or own", list(ownA, "/api/v1/series", vals("match[]", `x{namespace="b"}`, "match[]", `x{namespace="a"}`)), []string{own}},
		{"series with limit", list(ownA, "/api/v1/series", vals("match[]", all, "limit", "1")), []string{own}},
		{"series, window before the data", list(ownA, "/api/v1/series", vals("match[]", all, "end", "1600000000")), []string{}},
		{"series in a window", list(ownA, "/api/v1/series", vals("match[]", "x", "start", "1699999990", "end", "2023-11-14T22:13:20Z")), []string{own}},
		{"labels", list(ownA, "/api/v1/labels", nil), []string{"__name__", "cluster", "namespace", "pod"}},
		{"labels of c2", list(ownA, "/api/v1/labels", vals("match[]", `{cluster="c2"}`)), []string{}},
		{"namespace values", list(ownA, "/api/v1/label/namespace/values", nil), []string{"a"}},
		{"cluster values", list(ownA, "/api/v1/label/cluster/values", nil), []string{"c1"}},
		{"name values", list(ownA, "/api/v1/label/__name__/values", nil), []string{"x", "y"}},
		{"escaped label name", list(ownA, "/api/v1/label/U__namespace/values", nil), []string{"a"}},
		{"pod values in c2", list(ownA, "/api/v1/label/pod/values", vals("match[]", `{cluster="c2"}`)), []string{}},
		{"values of a label only c2 has", list(ownA, "/api/v1/label/only_c2/values", nil), []string{}},
		{"no scope: labels", list(nil, "/api/v1/labels", nil), []string{}},
		{"no scope: series", list(nil, "/api/v1/series", vals("match[]", all)), []string{}},
		{"admin: namespace values", list(admin, "/api/v1/label/namespace/values", nil), []string{"a", "b"}},
		{"admin: cluster values with limit", list(admin, "/api/v1/label/cluster/values", vals("limit", "1")), []string{"c1"}},
		{"admin: labels", list(admin, "/api/v1/labels", nil), []string{"__name__", "cluster", "code", "namespace", "only_c2", "pod"}},
		{"admin: query_exemplars", list(admin, "/api/v1/query_exemplars", vals("query", "x")), []string{}},
	}
	for _, c := range checks {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	_, body := call(t, a, http.MethodGet, "/api/v1/series", vals("match[]", all, "limit", "1"), ownA)
	if !strings.Contains(body, `"warnings":["results truncated due to limit"]`) {
		t.Errorf("truncated series without warning: %s", body)
	}

	// Queries: the caller's own series only, foreign ones simply absent.
	for q, want := range map[string]string{
		`x`:                   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"x","cluster":"c1","namespace":"a","pod":"p1"},"value":[1700000000,"110"]}]}}`,
		`x{cluster="c2"}`:     `{"status":"success","data":{"resultType":"vector","result":[]}}`,
		`count(x)`:            `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"1"]}]}}`,
		`absent(x{pod="p2"})`: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"p2"},"value":[1700000000,"1"]}]}}`,
	} {
		if _, body := call(t, a, http.MethodPost, "/api/v1/query", vals("query", q), ownA); body != want {
			t.Errorf("%s:\n got %s\nwant %s", q, body, want)
		}
	}
	if _, body := call(t, a, http.MethodGet, "/api/v1/query_range", vals("query", `x{namespace="b"}`, "start", "1699999400", "end", "1700000000", "step", "60"), ownA); body != `{"status":"success","data":{"resultType":"matrix","result":[]}}` {
		t.Errorf("range over a foreign namespace: %s", body)
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]int64{
		"1700000000":                          1_700_000_000_000,
		"1700000000.123":                      1_700_000_000_123,
		"1700000000.1234":                     1_700_000_000_123,
		"-1.5":                                -1500,
		"2023-11-14T22:13:20Z":                1_700_000_000_000,
		"2023-11-14T23:13:20.5+01:00":         1_700_000_000_500,
		"-292273086-05-16T16:47:06Z":          minTime.UnixMilli(),
		"292277025-08-18T07:12:54.999999999Z": maxTime.UnixMilli(),
	} {
		got, err := parseTime(in)
		if err != nil || got.UnixMilli() != want {
			t.Errorf("parseTime(%q) = %d, %v; want %d", in, got.UnixMilli(), err, want)
		}
	}
	for in, want := range map[string]time.Duration{"15s": 15 * time.Second, "1m30s": 90 * time.Second, "0.5": 500 * time.Millisecond, "60": time.Minute, "1h": time.Hour} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %s, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "1e300", "NaN", "fast", "-", "1ns"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) accepted", in)
		}
	}
	if v, ok := releaseOf("v0.316.0"); !ok || v != "3.16.0" {
		t.Errorf("releaseOf = %q", v)
	}
	if _, ok := releaseOf("v2.53.0"); ok {
		t.Error("releaseOf accepted a non-library version")
	}
}
