// Package promapi serves the Prometheus HTTP API over the metric store, in
// the shapes Grafana's Prometheus data source and promtool expect, with every
// read limited to the caller's scope.
package promapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/kstack/kstack/internal/metricstore"
)

// API serves the Prometheus HTTP API; the caller routes to it and supplies
// the scope of whoever asks.
type API struct {
	Store *metricstore.Store
	Now   func() time.Time // nil = time.Now
}

// selectorParser reads match[] selectors, with the engine's default options.
var selectorParser = parser.NewParser(parser.Options{})

// Serve answers one request: path is the part after the API's base (e.g.
// "/api/v1/query"); scope is the caller's (nil reads nothing).
func (a *API) Serve(w http.ResponseWriter, r *http.Request, path string, scope *metricstore.Scope) {
	h, ok := a.route(path)
	if !ok {
		respondError(w, &apiError{errNotFound, fmt.Errorf("unknown API path %q", path)})
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		respondError(w, &apiError{errNotAllowed, fmt.Errorf("method %s not allowed; use GET or POST", r.Method)})
		return
	}
	// Reads the URL query and, for a POST, an application/x-www-form-urlencoded body.
	if err := r.ParseForm(); err != nil {
		respondError(w, badData(fmt.Errorf("reading the form: %w", err)))
		return
	}
	h(w, r, scope)
}

type handler func(http.ResponseWriter, *http.Request, *metricstore.Scope)

func (a *API) route(path string) (handler, bool) {
	switch path {
	case "/api/v1/query":
		return a.query, true
	case "/api/v1/query_range":
		return a.queryRange, true
	case "/api/v1/series":
		return a.series, true
	case "/api/v1/labels":
		return a.labelNames, true
	case "/api/v1/status/buildinfo":
		return a.buildInfo, true
	case "/api/v1/metadata":
		return emptyObject, true
	case "/api/v1/query_exemplars":
		return emptyList, true // Grafana asks when exemplars are on; the store keeps none
	}
	if name, ok := strings.CutPrefix(path, "/api/v1/label/"); ok {
		if name, ok := strings.CutSuffix(name, "/values"); ok && name != "" && !strings.Contains(name, "/") {
			return func(w http.ResponseWriter, r *http.Request, sc *metricstore.Scope) { a.labelValues(w, r, sc, name) }, true
		}
	}
	return nil, false
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// withTimeout applies the optional "timeout" parameter to the request's context.
func withTimeout(r *http.Request) (context.Context, context.CancelFunc, error) {
	s := r.Form.Get("timeout")
	if s == "" {
		ctx, cancel := context.WithCancel(r.Context())
		return ctx, cancel, nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return nil, nil, badData(fmt.Errorf("invalid parameter \"timeout\": %w", err))
	}
	if d <= 0 {
		return nil, nil, badData(fmt.Errorf("invalid parameter \"timeout\": %q is not positive", s))
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	return ctx, cancel, nil
}

// contextError maps a context ending outside the engine to the answer Prometheus gives.
func contextError(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{errTimeout, err}
	case errors.Is(err, context.Canceled):
		return &apiError{errCanceled, err}
	}
	return err
}

func emptyObject(w http.ResponseWriter, _ *http.Request, _ *metricstore.Scope) {
	respond(w, map[string]any{}, nil, nil)
}

func emptyList(w http.ResponseWriter, _ *http.Request, _ *metricstore.Scope) {
	respond(w, []any{}, nil, nil)
}
