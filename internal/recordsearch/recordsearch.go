// Package recordsearch reads the search parameters that the record
// groups' APIs share (audit, events, and the alarm and notification
// records to come), so that each says the same thing about a bad search.
package recordsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/recordstore"
)

// Common are the parameters every search takes.
var Common = []string{"startTime", "endTime", "limit", "continue"}

// Parse reads a search of kind from v. filters maps each further parameter
// a search takes to the query field it sets. Unknown parameters are
// refused, so that a misspelt filter does not silently return everything.
func Parse(kind string, v url.Values, filters map[string]func(*recordstore.Query, string)) (recordstore.Query, error) {
	q := recordstore.Query{Kind: kind}
	for k, vals := range v {
		if len(vals) > 1 {
			return q, bad("%s is given %d times: give it once", k, len(vals))
		}
		val := vals[0]
		switch k {
		case "startTime", "endTime":
			t, err := parseTime(val)
			if err != nil {
				return q, bad("%s %q is not a time: use RFC 3339 (e.g. 2026-11-30T10:00:00Z) or Unix seconds", k, val)
			}
			if k == "startTime" {
				q.From = t
			} else {
				q.To = t
			}
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return q, bad("limit %q is not a positive number", val)
			}
			if n > recordstore.MaxLimit {
				return q, bad("limit %d is over the maximum %d: page with continue", n, recordstore.MaxLimit)
			}
			q.Limit = n
		case "continue":
			q.Continue = val
		default:
			set, ok := filters[k]
			if !ok {
				return q, bad("unknown parameter %q: this search takes %s", k, strings.Join(names(filters), ", "))
			}
			set(&q, val)
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return q, bad("endTime %s is before startTime %s: swap them", q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	}
	return q, nil
}

func parseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

func names(filters map[string]func(*recordstore.Query, string)) []string {
	out := append([]string(nil), Common...)
	for k := range filters {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func bad(format string, args ...any) error {
	return apigroup.Refuse(http.StatusBadRequest, format, args...)
}

// StoreError is the answer to a failed search: a query the store refused
// is the caller's to fix (400); anything else is the store's (503). A
// refusal already made is passed on.
func StoreError(err error) error {
	var ae *apigroup.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, recordstore.ErrBadQuery) {
		return apigroup.Refuse(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), recordstore.ErrBadQuery.Error()+": "))
	}
	return apigroup.Refuse(http.StatusServiceUnavailable, "the record store cannot be searched now: %v", err)
}

// Set is a filter that sets one string field.
func Set(field func(*recordstore.Query) *string) func(*recordstore.Query, string) {
	return func(q *recordstore.Query, v string) { *field(q) = v }
}

// Searcher is what a record API searches (recordstore.Store).
type Searcher interface {
	Search(ctx context.Context, q recordstore.Query) (recordstore.Page, error)
}

// Documents searches one page of q and decodes its records' documents
// (records that do not decode as T are left out).
func Documents[T any](ctx context.Context, s Searcher, q recordstore.Query) ([]T, string, error) {
	page, err := s.Search(ctx, q)
	if err != nil {
		return nil, "", StoreError(err)
	}
	out := make([]T, 0, len(page.Records))
	for _, rec := range page.Records {
		var doc T
		if json.Unmarshal(rec.Data, &doc) == nil {
			out = append(out, doc)
		}
	}
	return out, page.Continue, nil
}

// ServeExport answers an export of q (or the error that made q).
func ServeExport(w http.ResponseWriter, r *http.Request, s Searcher, q recordstore.Query, qerr error, filename string, max int) {
	if qerr == nil {
		search := func(q recordstore.Query) (recordstore.Page, error) { return s.Search(r.Context(), q) }
		qerr = Export(w, r, search, q, filename, max)
	}
	if qerr != nil {
		apigroup.WriteError(w, StoreError(qerr))
	}
}

// Export streams every record of q as JSON lines, page by page, up to max
// records.
func Export(w http.ResponseWriter, r *http.Request, search func(recordstore.Query) (recordstore.Page, error), q recordstore.Query, filename string, max int) error {
	q.Limit = recordstore.MaxLimit
	started := false
	n := 0
	for {
		page, err := search(q)
		if err != nil {
			if !started {
				return err
			}
			// Headers are gone: the client sees a short file; say so in it.
			fmt.Fprintf(w, "{\"error\":%q}\n", err.Error())
			return nil
		}
		if !started {
			w.Header().Set("Content-Type", "application/jsonl")
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
			started = true
		}
		for _, rec := range page.Records {
			w.Write(rec.Data)
			w.Write([]byte{'\n'})
			n++
			if n >= max {
				return nil
			}
		}
		_ = http.NewResponseController(w).Flush()
		if page.Continue == "" || r.Context().Err() != nil {
			return nil
		}
		q.Continue = page.Continue
	}
}
