package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
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
	out, more, err := r.catalog(req.Context(), caller, n, q.Get("last"))
	if err != nil {
		_ = errcode.ServeJSON(w, errcode.ErrorCodeUnknown.WithDetail(err.Error()))
		return
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

// catalog lists, in lexical order, up to n repositories after last in the
// namespaces caller may pull from, and whether more follow. It walks only
// those namespaces' directories (from last's on), never the whole storage.
func (r *Registry) catalog(ctx context.Context, caller *Caller, n int, last string) ([]string, bool, error) {
	out := []string{}
	if n == 0 {
		return out, false, nil
	}
	var prefixes []string
	for _, ns := range r.cfg.Auth.Namespaces(ctx, caller) {
		if validNamespace(ns) {
			prefixes = append(prefixes, ns+"/")
		}
	}
	// Every repository of ns starts with "ns/", and no "ns/" starts
	// another: in the order of their prefixes, the namespaces' sorted
	// lists make one sorted list.
	sort.Strings(prefixes)
	prefixes = slices.Compact(prefixes)
	for _, prefix := range prefixes {
		if last != "" && prefix < last && !strings.HasPrefix(last, prefix) {
			continue // all of it sorts before last
		}
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		repos, err := r.reposUnder(ctx, repoDir(strings.TrimSuffix(prefix, "/")))
		if err != nil {
			return nil, false, err
		}
		sort.Strings(repos)
		for _, repo := range repos {
			if !strings.HasPrefix(repo, prefix) || repo <= last {
				continue
			}
			if len(out) == n {
				return out, true, nil
			}
			out = append(out, repo)
		}
	}
	return out, false, nil
}
