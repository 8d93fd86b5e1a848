package promapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/kstack/kstack/internal/metricstore"
)

// maxAnnotations is how many warnings and infos an answer lists before it
// says how many more there were.
const maxAnnotations = 10

func (a *API) query(w http.ResponseWriter, r *http.Request, sc *metricstore.Scope) {
	ts, err := timeParam(r, "time", a.now())
	if err != nil {
		respondError(w, err)
		return
	}
	a.run(w, r, func(ctx context.Context, q storage.Queryable, qs string) (promql.Query, error) {
		return a.Store.Engine().NewInstantQuery(ctx, q, nil, qs, ts)
	}, sc)
}

func (a *API) queryRange(w http.ResponseWriter, r *http.Request, sc *metricstore.Scope) {
	start, err := requiredTime(r, "start")
	if err != nil {
		respondError(w, err)
		return
	}
	end, err := requiredTime(r, "end")
	if err != nil {
		respondError(w, err)
		return
	}
	if end.Before(start) {
		respondError(w, badData(errors.New("invalid parameter \"end\": end timestamp must not be before start time")))
		return
	}
	stepStr := r.Form.Get("step")
	if stepStr == "" {
		respondError(w, badData(errors.New("invalid parameter \"step\": missing")))
		return
	}
	step, err := parseDuration(stepStr)
	if err != nil {
		respondError(w, badData(fmt.Errorf("invalid parameter \"step\": %w", err)))
		return
	}
	if step <= 0 {
		respondError(w, badData(errors.New("invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer")))
		return
	}
	if err := checkResolution(end.Sub(start), step, a.Store.Options().MaxPointsPerSeries); err != nil {
		respondError(w, err)
		return
	}
	a.run(w, r, func(ctx context.Context, q storage.Queryable, qs string) (promql.Query, error) {
		return a.Store.Engine().NewRangeQuery(ctx, q, nil, qs, start, end, step)
	}, sc)
}

// run makes the request's query with newQuery over the caller's scope, runs
// it under the request's timeout and answers with its result.
func (a *API) run(w http.ResponseWriter, r *http.Request, newQuery func(context.Context, storage.Queryable, string) (promql.Query, error), sc *metricstore.Scope) {
	ctx, cancel, err := withTimeout(r)
	if err != nil {
		respondError(w, err)
		return
	}
	defer cancel()
	qs := r.Form.Get("query")
	qry, err := newQuery(ctx, a.Store.Scoped(sc), qs)
	if err != nil {
		respondError(w, badData(fmt.Errorf("invalid parameter \"query\": %w", err)))
		return
	}
	defer qry.Close()
	respondResult(w, qs, qry.Exec(ctx))
}

// checkResolution refuses a range holding more than max steps, Prometheus's
// rule (so max+1 points): Grafana picks its step so that range/step stays
// within 11,000 and counts on that passing.
func checkResolution(rng, step time.Duration, max int) error {
	if rng/step <= time.Duration(max) {
		return nil
	}
	minStep := time.Duration(math.Ceil(float64(rng) / float64(max) / float64(time.Second)))
	return badData(fmt.Errorf("exceeded maximum resolution of %s points per timeseries. Try decreasing the query resolution (?step=XX): this range needs step=%ds or more",
		thousands(max), minStep))
}

// thousands formats n with comma separators, as Prometheus writes its limit.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func respondResult(w http.ResponseWriter, qs string, res *promql.Result) {
	if res.Err != nil {
		respondError(w, engineError(res.Err))
		return
	}
	warnings, infos := res.Warnings.AsStrings(qs, maxAnnotations, maxAnnotations)
	respond(w, resultData(res.Value), warnings, infos)
}

// engineError gives an evaluation error the errorType Prometheus gives it.
func engineError(err error) error {
	var (
		timeout  promql.ErrQueryTimeout
		canceled promql.ErrQueryCanceled
		storage  promql.ErrStorage
	)
	switch {
	case errors.As(err, &timeout):
		return &apiError{errTimeout, err}
	case errors.As(err, &canceled):
		return &apiError{errCanceled, err}
	case errors.As(err, &storage):
		return &apiError{errInternal, err}
	}
	if ce := contextError(err); ce != err {
		return ce
	}
	return &apiError{errExec, err}
}
