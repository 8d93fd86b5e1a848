package registryapi

import (
	"context"
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/directory"
)

// Placeholders of the guide's commands when the request names no
// repository or tag: upper case, which no reference accepts, so that a
// command pasted unchanged fails rather than pushes somewhere.
const (
	PlaceholderImage      = "LOCAL-IMAGE"
	PlaceholderRepository = "REPOSITORY"
	PlaceholderTag        = "TAG"
)

// RegistryUsername is the name p logs in to the registry with: the
// username in the default tenant, "<tenant>.<username>" in another
// (usernames hold no dot).
func RegistryUsername(p *directory.Principal) string {
	if p.Tenant == "" || p.Tenant == apigroup.DefaultTenant {
		return p.Username
	}
	return p.Tenant + "." + p.Username
}

// guide serves GET …/registrynamespaces/{ns}/guide[?repository=R&tag=T]:
// the commands that log in, tag a local image into the namespace, push it
// and pull it back, for the caller. Anyone who sees the namespace gets it;
// its notes say what the caller may not do there.
func (m *Module) guide(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	g, err := m.uploadGuide(r.Context(), p, r.PathValue("ns"), r.URL.Query().Get("repository"), r.URL.Query().Get("tag"))
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	apigroup.WriteJSON(w, http.StatusOK, g)
}

func (m *Module) uploadGuide(ctx context.Context, p *directory.Principal, name, repo, tag string) (*registryv1.UploadGuide, error) {
	if m.Store == nil {
		return nil, errOff()
	}
	if repo != "" {
		if err := checkRepo(name, repo); err != nil {
			return nil, err
		}
	}
	if tag != "" {
		if err := checkTag(tag); err != nil {
			return nil, err
		}
	}
	ns, own, err := m.lookup(ctx, p, name)
	if err != nil {
		return nil, err
	}
	if repo == "" {
		repo = PlaceholderRepository
	}
	if tag == "" {
		tag = PlaceholderTag
	}
	host, user := m.host(), RegistryUsername(p)
	ref := host + "/" + name + "/" + repo + ":" + tag
	g := &registryv1.UploadGuide{
		Registry: host, Namespace: name, Username: user,
		Login: "docker login " + host + " -u " + user,
		Tag:   "docker tag " + PlaceholderImage + " " + ref,
		Push:  "docker push " + ref,
		Pull:  "docker pull " + ref,
	}
	if m.oidcTenant(ctx, p.Tenant) {
		g.Notes = append(g.Notes, "Your tenant logs in through an OpenID provider, which gives you no password here: create an access key (kstack apikey create, or Access keys in the console) and give it as the password.")
	} else {
		g.Notes = append(g.Notes, "The password is your platform password, or an access key (kstack apikey create, or Access keys in the console), which scripts and CI should use.")
	}
	g.Notes = append(g.Notes,
		"In scripts, give the secret on stdin: echo \"$KEY\" | docker login "+host+" -u "+user+" --password-stdin",
		"Replace "+PlaceholderImage+" with your local image (name:tag or ID), and "+PlaceholderRepository+" and "+PlaceholderTag+" with the repository (may hold '/') and tag to push to.",
		"skopeo: skopeo login "+host+" -u "+user+"; skopeo copy docker-daemon:"+PlaceholderImage+" docker://"+ref,
		"helm (OCI charts): helm registry login "+host+" -u "+user+"; helm push CHART.tgz oci://"+host+"/"+name,
		"If the platform's certificate comes from its own CA, docker needs that CA in /etc/docker/certs.d/"+host+"/ca.crt (skopeo: --cert-dir; helm: --ca-file).")
	if ns.Spec.Visibility == registryv1.Public {
		g.Notes = append(g.Notes, "This namespace is public: anyone pulls from it, without logging in.")
	}
	switch {
	case !own:
		g.Notes = append(g.Notes, "This namespace is another tenant's: you may pull from it, not push to it.")
	case !m.may(ctx, p, ns, ActionPush, "*").Allowed:
		msg := "You may not push to this namespace: that needs " + ActionPush
		if m.mayRead(ctx, p, ns, "*") != nil {
			msg = "You may neither push to nor pull from this namespace: that needs " + ActionPush + " and " + ActionPull
		}
		g.Notes = append(g.Notes, msg+" on "+repoResource(name, "*")+", which platform users hold, and members of the projects the namespace is shared with.")
	}
	return g, nil
}

// oidcTenant: the tenant's users log in through an external OpenID
// provider (the provider is named after its tenant).
func (m *Module) oidcTenant(ctx context.Context, tenant string) bool {
	if tenant == "" || tenant == apigroup.DefaultTenant {
		return false
	}
	var idp authv1.IdentityProvider
	if err := m.Client.Get(ctx, client.ObjectKey{Name: tenant}, &idp); err != nil {
		return false
	}
	return idp.Spec.Type == authv1.IdentityProviderOIDC
}
