package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	authv1 "github.com/kstack/kstack/api/auth/v1"
)

func (s *Server) identityRoutes(mux *http.ServeMux) {
	mux.Handle("GET /console/platform/users", s.authed(s.users))
	mux.Handle("POST /console/platform/users", s.authed(s.createUser))
	mux.Handle("GET /console/platform/groups", s.authed(s.groups))
	mux.Handle("GET /console/platform/policies", s.authed(s.policies))
	mux.Handle("GET /console/platform/credentials", s.authed(s.credentials))
	mux.Handle("POST /console/platform/credentials", s.authed(s.createCredential))
	mux.Handle("POST /console/platform/credentials/{name}/delete", s.authed(s.deleteCredential))
}

type userRow struct{ Username, DisplayName, Email, LastLogin string }

func (s *Server) users(w http.ResponseWriter, r *request) {
	s.renderUsers(w, r, map[string]string{}, "")
}

func (s *Server) renderUsers(w http.ResponseWriter, r *request, form map[string]string, formErr string) {
	c, err := r.platform()
	if err != nil {
		r.fail(w, err)
		return
	}
	var l authv1.UserList
	if err := c.List(r.Context(), &l); err != nil {
		r.fail(w, err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	var rows []userRow
	for _, u := range l.Items {
		if matches(q, u.Spec.Username, u.Spec.DisplayName, u.Spec.Email) {
			last := "never"
			if t := u.Status.LastLoginTime; t != nil {
				last = age(time.Since(t.Time)) + " ago"
			}
			rows = append(rows, userRow{u.Spec.Username, u.Spec.DisplayName, u.Spec.Email, last})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Username < rows[j].Username })
	page, pg := pageOf(r.Request, rows)
	d := map[string]any{"Rows": page, "Pager": pg, "Q": q, "CanCreate": r.can("", "createUser", "user:*"), "Form": form, "FormError": formErr}
	if formErr != "" || isHTMX(r.Request) && r.Method == http.MethodPost {
		r.fragment(w, http.StatusOK, "users", "userform", d)
		return
	}
	r.page(w, "users", "platform", "Users", d)
}

func (s *Server) createUser(w http.ResponseWriter, r *request) {
	form := map[string]string{"username": strings.TrimSpace(r.PostFormValue("username")), "displayName": strings.TrimSpace(r.PostFormValue("displayName"))}
	body, _ := json.Marshal(map[string]any{
		"spec":     map[string]string{"username": form["username"], "displayName": form["displayName"]},
		"password": r.PostFormValue("password"),
	})
	code, out := r.call(http.MethodPost, "/auth/apis/auth.tkestack.io/v1/users", body)
	if code != http.StatusCreated && code != http.StatusOK {
		s.renderUsers(w, r, form, statusMessage(code, out))
		return
	}
	redirect(w, r.Request, "/console/platform/users?notice="+url.QueryEscape("User "+form["username"]+" created"))
}

func (s *Server) groups(w http.ResponseWriter, r *request) {
	c, err := r.platform()
	if err != nil {
		r.fail(w, err)
		return
	}
	var l authv1.GroupList
	if err := c.List(r.Context(), &l); err != nil {
		r.fail(w, err)
		return
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Spec.Name < l.Items[j].Spec.Name })
	page, pg := pageOf(r.Request, l.Items)
	r.page(w, "groups", "platform", "Groups", map[string]any{"Rows": page, "Pager": pg})
}

func (s *Server) policies(w http.ResponseWriter, r *request) {
	c, err := r.platform()
	if err != nil {
		r.fail(w, err)
		return
	}
	var l authv1.PolicyList
	if err := c.List(r.Context(), &l); err != nil {
		r.fail(w, err)
		return
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	page, pg := pageOf(r.Request, l.Items)
	r.page(w, "policies", "platform", "Policies", map[string]any{"Rows": page, "Pager": pg})
}

type keyView struct {
	Name, Description, ExpiresAt string
	Disabled, Expired            bool
	Key                          string
}

func (s *Server) renderCredentials(w http.ResponseWriter, r *request, created *keyView, formErr string) {
	code, out := r.call(http.MethodGet, "/auth/apis/auth.tkestack.io/v1/apikeys", nil)
	d := map[string]any{"Created": created, "FormError": formErr}
	if code != http.StatusOK {
		d["ListError"] = statusMessage(code, out)
	} else {
		var l struct {
			Items []struct {
				Name, Description string
				ExpiresAt         string `json:"expiresAt"`
				Disabled, Expired bool
			}
		}
		_ = json.Unmarshal(out, &l)
		var rows []keyView
		for _, k := range l.Items {
			rows = append(rows, keyView{Name: k.Name, Description: k.Description, ExpiresAt: k.ExpiresAt, Disabled: k.Disabled, Expired: k.Expired})
		}
		d["Rows"] = rows
	}
	section := "platform"
	if !r.can("", "listCluster", "cluster:*") {
		section = "business"
	}
	r.page(w, "credentials", section, "Access keys", d)
}

func (s *Server) credentials(w http.ResponseWriter, r *request) { s.renderCredentials(w, r, nil, "") }

func (s *Server) createCredential(w http.ResponseWriter, r *request) {
	body, _ := json.Marshal(map[string]string{"description": r.PostFormValue("description"), "expiresIn": strings.TrimSpace(r.PostFormValue("expiresIn"))})
	code, out := r.call(http.MethodPost, "/auth/apis/auth.tkestack.io/v1/apikeys", body)
	if code != http.StatusCreated {
		s.renderCredentials(w, r, nil, statusMessage(code, out))
		return
	}
	var k struct{ Name, Key string }
	_ = json.Unmarshal(out, &k)
	s.renderCredentials(w, r, &keyView{Name: k.Name, Key: k.Key}, "")
}

func (s *Server) deleteCredential(w http.ResponseWriter, r *request) {
	code, out := r.call(http.MethodDelete, "/auth/apis/auth.tkestack.io/v1/apikeys/"+url.PathEscape(r.PathValue("name")), nil)
	if code >= 300 {
		s.fail(w, r.Request, code, statusMessage(code, out))
		return
	}
	redirect(w, r.Request, "/console/platform/credentials?notice="+url.QueryEscape("Access key deleted"))
}
