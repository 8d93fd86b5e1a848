package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// platform is a client of the platform's API as the user.
func (r *request) platform() (client.Client, error) {
	return client.New(r.s.PlatformConfig(r.user), client.Options{Scheme: r.s.Scheme, Mapper: r.s.Mapper})
}

// list reads a list of the platform's objects as the user; on failure it
// shows the error and reports false.
func (r *request) list(w http.ResponseWriter, l client.ObjectList) bool {
	c, err := r.platform()
	if err == nil {
		err = c.List(r.Context(), l)
	}
	if err != nil {
		r.fail(w, err)
		return false
	}
	return true
}

// create makes one of the platform's objects as the user.
func (r *request) create(obj client.Object) error {
	c, err := r.platform()
	if err != nil {
		return err
	}
	return c.Create(r.Context(), obj)
}

// member is a typed client of a member cluster as the user.
func (r *request) member(cluster string) (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(r.s.MemberConfig(r.user, cluster))
}

// dynamicMember is an untyped client of a member cluster as the user.
func (r *request) dynamicMember(cluster string) (dynamic.Interface, error) {
	return dynamic.NewForConfig(r.s.MemberConfig(r.user, cluster))
}

// refused is err in words for the page; ok is false when the session
// ended (r.fail answered: the user logs in again).
func (r *request) refused(w http.ResponseWriter, err error) (msg string, ok bool) {
	code, msg := explain(err)
	if code == http.StatusUnauthorized {
		r.fail(w, err)
		return "", false
	}
	return msg, true
}

// explain turns an API error into a status code and a message a person
// can act on.
func explain(err error) (int, string) {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		code := int(s.Code)
		if code == 0 {
			code = http.StatusInternalServerError
		}
		msg := s.Message
		if msg == "" {
			msg = string(s.Reason)
		}
		return code, msg
	}
	return http.StatusBadGateway, err.Error()
}

// statusMessage reads a Kubernetes Status body (the gateway's errors).
func statusMessage(code int, body []byte) string {
	var st struct{ Message string }
	if json.Unmarshal(body, &st) == nil && st.Message != "" {
		return st.Message
	}
	if len(body) > 0 && len(body) < 500 {
		return strings.TrimSpace(string(body))
	}
	return fmt.Sprintf("the platform answered %d %s", code, http.StatusText(code))
}

// pager is the navigation of one page of a list.
type pager struct {
	Prev, Next string
	Shown      string
}

const pageSize = 50

// pageOf cuts the page the request asks for (?page=N) out of items.
func pageOf[T any](r *http.Request, items []T) ([]T, pager) {
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if n < 1 {
		n = 1
	}
	from := (n - 1) * pageSize
	if from > len(items) {
		from = len(items) / pageSize * pageSize
		n = from/pageSize + 1
	}
	to := min(from+pageSize, len(items))
	pg := pager{Shown: fmt.Sprintf("%d–%d of %d", min(from+1, to), to, len(items))}
	if len(items) == 0 {
		pg.Shown = "none"
	}
	if n > 1 {
		pg.Prev = withQuery(r.URL, "page", strconv.Itoa(n-1))
	}
	if to < len(items) {
		pg.Next = withQuery(r.URL, "page", strconv.Itoa(n+1))
	}
	return items[from:to], pg
}

// withQuery is the request's URL with one query parameter set.
func withQuery(u *url.URL, key, value string) string {
	q := u.Query()
	q.Set(key, value)
	q.Del("fragment")
	if value == "" {
		q.Del(key)
	}
	return u.Path + "?" + q.Encode()
}

// matches is the console's search: every word of q, case-insensitively,
// in one of the fields.
func matches(q string, fields ...string) bool {
	if q == "" {
		return true
	}
	all := strings.ToLower(strings.Join(fields, " "))
	for _, w := range strings.Fields(strings.ToLower(q)) {
		if !strings.Contains(all, w) {
			return false
		}
	}
	return true
}
