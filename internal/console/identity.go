package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/kstack/kstack/api/auth/v1"
)

func (s *Server) identityRoutes(mux *http.ServeMux) {
	mux.Handle("GET /console/platform/users", s.authed(s.users))
	mux.Handle("POST /console/platform/users", s.authed(s.createUser))
	mux.Handle("GET /console/platform/groups", s.authed(s.groups))
	mux.Handle("POST /console/platform/groups", s.authed(s.createGroup))
	mux.Handle("GET /console/platform/policies", s.authed(s.policies))
	mux.Handle("POST /console/platform/policies/bind", s.authed(s.bindPolicy))
	mux.Handle("GET /console/platform/credentials", s.authed(s.credentials))
	mux.Handle("POST /console/platform/credentials", s.authed(s.createCredential))
	mux.Handle("POST /console/platform/credentials/{name}/delete", s.authed(s.deleteCredential))
}

type userRow struct{ Username, DisplayName, Email, LastLogin string }

func (s *Server) users(w http.ResponseWriter, r *request) {
	s.renderUsers(w, r, map[string]string{}, "")
}

func (s *Server) renderUsers(w http.ResponseWriter, r *request, form map[string]string, formErr string) {
	var l authv1.UserList
	if !r.list(w, &l) {
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
	s.renderGroups(w, r, map[string]string{}, "")
}

func (s *Server) renderGroups(w http.ResponseWriter, r *request, form map[string]string, formErr string) {
	var l authv1.GroupList
	if !r.list(w, &l) {
		return
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Spec.Name < l.Items[j].Spec.Name })
	page, pg := pageOf(r.Request, l.Items)
	r.page(w, "groups", "platform", "Groups", map[string]any{"Rows": page, "Pager": pg,
		"CanCreate": r.can("", "createGroup", "group:*"), "Form": form, "FormError": formErr})
}

// splitList reads "a, b c" as [a b c].
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
}

func (s *Server) createGroup(w http.ResponseWriter, r *request) {
	form := map[string]string{"name": strings.TrimSpace(r.PostFormValue("name")), "description": strings.TrimSpace(r.PostFormValue("description")), "members": r.PostFormValue("members")}
	g := &authv1.Group{TypeMeta: metav1.TypeMeta{APIVersion: authv1.GroupVersion.String(), Kind: "Group"},
		ObjectMeta: metav1.ObjectMeta{Name: authv1.ObjectName(r.user.Tenant, form["name"])},
		Spec:       authv1.GroupSpec{Name: form["name"], Description: form["description"], Members: splitList(form["members"])}}
	err := r.create(g)
	if err != nil {
		_, msg := explain(err)
		s.renderGroups(w, r, form, msg)
		return
	}
	redirect(w, r.Request, "/console/platform/groups?notice="+url.QueryEscape("Group "+form["name"]+" created"))
}

func (s *Server) policies(w http.ResponseWriter, r *request) {
	s.renderPolicies(w, r, map[string]string{}, "")
}

func (s *Server) renderPolicies(w http.ResponseWriter, r *request, form map[string]string, formErr string) {
	var l authv1.PolicyList
	if !r.list(w, &l) {
		return
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	var bindings authv1.PolicyBindingList
	if c, err := r.platform(); err == nil {
		_ = c.List(r.Context(), &bindings) // those the user may see; none is fine
	}
	page, pg := pageOf(r.Request, l.Items)
	r.page(w, "policies", "platform", "Policies", map[string]any{"Rows": page, "Pager": pg, "All": l.Items,
		"Bindings": bindings.Items, "CanBind": r.can("", "createPolicyBinding", "policybinding:*"), "Form": form, "FormError": formErr})
}

// bindPolicy grants a policy to users and groups; the API refuses a grant
// beyond what the granter holds, and that refusal is shown in place.
func (s *Server) bindPolicy(w http.ResponseWriter, r *request) {
	form := map[string]string{"policy": r.PostFormValue("policy"), "users": r.PostFormValue("users"), "groups": r.PostFormValue("groups"), "project": strings.TrimSpace(r.PostFormValue("project"))}
	users, groups := splitList(form["users"]), splitList(form["groups"])
	if len(users)+len(groups) == 0 {
		s.renderPolicies(w, r, form, "name at least one user or group to grant the policy to")
		return
	}
	b := &authv1.PolicyBinding{TypeMeta: metav1.TypeMeta{APIVersion: authv1.GroupVersion.String(), Kind: "PolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: "pb-"},
		Spec:       authv1.PolicyBindingSpec{PolicyName: form["policy"], Users: users, Groups: groups, ProjectID: form["project"]}}
	err := r.create(b)
	if err != nil {
		_, msg := explain(err)
		s.renderPolicies(w, r, form, msg)
		return
	}
	redirect(w, r.Request, "/console/platform/policies?notice="+url.QueryEscape("Policy "+form["policy"]+" granted"))
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
