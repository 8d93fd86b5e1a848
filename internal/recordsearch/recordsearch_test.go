package recordsearch

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/apigroup/apigrouptest"
	"github.com/kstack/kstack/internal/recordstore"
)

var filters = map[string]func(*recordstore.Query, string){
	"user": Set(func(q *recordstore.Query) *string { return &q.User }),
}

func TestParse(t *testing.T) {
	q, err := Parse("audit", url.Values{"startTime": {"2026-11-30T10:00:00Z"}, "endTime": {"1796083200"}, "limit": {"50"}, "continue": {"tok"}, "user": {"alice"}}, filters)
	if err != nil {
		t.Fatal(err)
	}
	if q.Kind != "audit" || !q.From.Equal(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)) || q.To.Unix() != 1796083200 || q.Limit != 50 || q.Continue != "tok" || q.User != "alice" {
		t.Errorf("query %+v", q)
	}
	for _, tt := range []struct {
		v    url.Values
		want string
	}{
		{url.Values{"startTime": {"yesterday"}}, "is not a time"},
		{url.Values{"startTime": {"2026-12-01T00:00:00Z"}, "endTime": {"2026-11-01T00:00:00Z"}}, "is before startTime"},
		{url.Values{"limit": {"1001"}}, "over the maximum 1000"},
		{url.Values{"limit": {"0"}}, "not a positive number"},
		{url.Values{"usr": {"alice"}}, `unknown parameter "usr": this search takes continue, endTime, limit, startTime, user`},
		{url.Values{"user": {"a", "b"}}, "given 2 times"},
	} {
		_, err := Parse("audit", tt.v, filters)
		apigrouptest.CheckRefusal(t, err, http.StatusBadRequest, tt.want)
	}
}

func TestStoreError(t *testing.T) {
	apigrouptest.CheckRefusal(t, StoreError(fmt.Errorf("%w: the continue token is not one this search gave", recordstore.ErrBadQuery)), http.StatusBadRequest, "continue token")
	apigrouptest.CheckRefusal(t, StoreError(fmt.Errorf("dial tcp 127.0.0.1:5432: connection refused")), http.StatusServiceUnavailable, "cannot be searched now")
	if err := StoreError(bad("x")); !strings.Contains(err.Error(), "x") {
		t.Errorf("a refusal is not passed on: %v", err)
	}
}
