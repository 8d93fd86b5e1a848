package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/distribution/v3/registry/auth"
)

const (
	maxCatalogEntries     = 1000
	defaultCatalogEntries = 100
)

// serveCatalog answers GET /v2/_catalog with the repositories of the
// namespaces the caller may pull from, paginated as the spec says (n,
// last, Link) over that filtered list: another tenant's private
// repositories are not merely unreadable but absent.
func (r *Registry) serveCatalog(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		_ = errcode.ServeJSON(w, errcode.ErrorCodeUnsupported.WithMessage("the catalogue answers GET only"))
		return
	}
	c, ch := r.authenticate(req, []auth.Access{{Resource: auth.Resource{Type: "registry", Name: "catalog"}, Action: "*"}})
	if ch != nil {
		ch.SetHeaders(req, w)
		_ = errcode.ServeJSON(w, errcode.ErrorCodeUnauthorized) // the override writes the message
		return
	}
	q := req.URL.Query()
	n := defaultCatalogEntries
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > maxCatalogEntries {
			_ = errcode.ServeJSON(w, errcode.ErrorCodePaginationNumberInvalid.WithMessage(
				fmt.Sprintf("n=%q: want a number from 0 to %d", s, maxCatalogEntries)))
			return
		}
		n = v
	}
	var caller *Caller
	if c.Subject != "" {
		caller = c
	}
	ctx := req.Context()
	allowed := map[string]bool{}
	visible := func(repo string) bool {
		ns, _, _ := strings.Cut(repo, "/")
		v, ok := allowed[ns]
		if !ok {
			v = r.cfg.Auth.Allowed(ctx, caller, ns, "pull")
			allowed[ns] = v
		}
		return v
	}

	out := []string{}
	more := false
	cursor := q.Get("last")
	buf := make([]string, defaultCatalogEntries)
scan:
	for n > 0 {
		k, err := r.store.Repositories(ctx, buf, cursor)
		for _, repo := range buf[:k] {
			if !visible(repo) {
				continue
			}
			if len(out) == n {
				more = true
				break scan
			}
			out = append(out, repo)
		}
		if err != nil {
			if errors.Is(err, io.EOF) || isNotFound(err) {
				break
			}
			_ = errcode.ServeJSON(w, errcode.ErrorCodeUnknown.WithDetail(err.Error()))
			return
		}
		if k == 0 {
			break
		}
		cursor = buf[k-1]
	}
	w.Header().Set("Content-Type", "application/json")
	if more {
		u := *req.URL
		v := url.Values{}
		v.Set("n", strconv.Itoa(n))
		v.Set("last", out[len(out)-1])
		u.RawQuery = v.Encode()
		u.Fragment = ""
		w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", u.String()))
	}
	_ = json.NewEncoder(w).Encode(map[string][]string{"repositories": out})
}
