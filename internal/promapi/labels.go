package promapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/kstack/kstack/internal/metricstore"
)

const truncatedWarning = "results truncated due to limit"

// metadataRequest is what the series and label endpoints share: a querier
// over [start, end] in the caller's scope, the match[] selectors and a limit.
type metadataRequest struct {
	q     storage.Querier
	sets  [][]*labels.Matcher
	limit int
	hints *storage.SelectHints
}

func (a *API) metadataRequest(r *http.Request, sc *metricstore.Scope, matchRequired bool) (*metadataRequest, error) {
	start, err := timeParam(r, "start", minTime)
	if err != nil {
		return nil, err
	}
	end, err := timeParam(r, "end", maxTime)
	if err != nil {
		return nil, err
	}
	if end.Before(start) {
		return nil, badData(errors.New("invalid parameter \"end\": end timestamp must not be before start time"))
	}
	limit, err := limitParam(r)
	if err != nil {
		return nil, err
	}
	matches := r.Form["match[]"]
	if matchRequired && len(matches) == 0 {
		return nil, badData(errors.New("no match[] parameter provided"))
	}
	sets, err := selectorParser.ParseMetricSelectors(matches)
	if err != nil {
		return nil, badData(fmt.Errorf("invalid parameter \"match[]\": %w", err))
	}
	for _, ms := range sets {
		if !selective(ms) {
			return nil, badData(errors.New("invalid parameter \"match[]\": a selector must contain at least one matcher that does not match the empty string, e.g. {__name__=~\".+\"}"))
		}
	}
	q, err := a.Store.Scoped(sc).Querier(start.UnixMilli(), end.UnixMilli())
	if err != nil {
		return nil, &apiError{errExec, err}
	}
	mr := &metadataRequest{q: q, sets: sets, limit: limit,
		hints: &storage.SelectHints{Start: start.UnixMilli(), End: end.UnixMilli(), Func: "series"}}
	if limit > 0 {
		mr.hints.Limit = limit + 1 // one more, to tell whether there were more
	}
	return mr, nil
}

// selective reports whether a selector narrows the series down, as PromQL
// requires of a vector selector; {} or {a=""} alone would mean every series.
func selective(ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches("") {
			return true
		}
	}
	return false
}

// truncate applies the limit, returning the warning Prometheus gives when it cut.
func truncate[T any](items []T, limit int) ([]T, []string) {
	if limit > 0 && len(items) > limit {
		return items[:limit], []string{truncatedWarning}
	}
	return items, nil
}

func (a *API) series(w http.ResponseWriter, r *http.Request, sc *metricstore.Scope) {
	mr, err := a.metadataRequest(r, sc, true)
	if err != nil {
		respondError(w, err)
		return
	}
	defer mr.q.Close()
	seen := map[string]bool{}
	out := []labels.Labels{}
	var ws annotations.Annotations
	for _, ms := range mr.sets {
		ss := mr.q.Select(r.Context(), false, mr.hints, ms...)
		for ss.Next() {
			l := ss.At().Labels()
			if k := l.String(); !seen[k] {
				seen[k] = true
				out = append(out, l)
			}
		}
		if err := ss.Err(); err != nil {
			respondError(w, selectError(err))
			return
		}
		ws.Merge(ss.Warnings())
	}
	slices.SortFunc(out, labels.Compare)
	out, cut := truncate(out, mr.limit)
	respond(w, out, append(warnings(ws), cut...), nil)
}

func (a *API) labelNames(w http.ResponseWriter, r *http.Request, sc *metricstore.Scope) {
	a.labelQuery(w, r, sc, func(mr *metadataRequest, ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
		return mr.q.LabelNames(r.Context(), &storage.LabelHints{Limit: mr.hints.Limit}, ms...)
	})
}

func (a *API) labelValues(w http.ResponseWriter, r *http.Request, sc *metricstore.Scope, name string) {
	// Names that are not valid legacy names arrive escaped as U__... (Prometheus 3).
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		respondError(w, badData(fmt.Errorf("invalid label name: %q", name)))
		return
	}
	a.labelQuery(w, r, sc, func(mr *metadataRequest, ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
		return mr.q.LabelValues(r.Context(), name, &storage.LabelHints{Limit: mr.hints.Limit}, ms...)
	})
}

// labelQuery answers the union, sorted, of get over each match[] set (or
// over everything when there is none).
func (a *API) labelQuery(w http.ResponseWriter, r *http.Request, sc *metricstore.Scope,
	get func(*metadataRequest, []*labels.Matcher) ([]string, annotations.Annotations, error),
) {
	mr, err := a.metadataRequest(r, sc, false)
	if err != nil {
		respondError(w, err)
		return
	}
	defer mr.q.Close()
	sets := mr.sets
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	seen := map[string]bool{}
	out := []string{}
	var ws annotations.Annotations
	for _, ms := range sets {
		vals, w2, err := get(mr, ms)
		if err != nil {
			respondError(w, selectError(err))
			return
		}
		ws.Merge(w2)
		for _, v := range vals {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	out, cut := truncate(out, mr.limit)
	respond(w, out, append(warnings(ws), cut...), nil)
}

func warnings(ws annotations.Annotations) []string {
	w, _ := ws.AsStrings("", maxAnnotations, 0)
	return w
}

func selectError(err error) error {
	if ce := contextError(err); ce != err {
		return ce
	}
	return &apiError{errExec, err}
}
