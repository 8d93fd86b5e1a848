package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/clusteraddon"
)

// The Extension Components page (seed 004 §4.2.4): a member cluster's
// add-ons (ClusterAddon) and the types the platform offers, with install,
// upgrade and uninstall. Everything goes through the platform's API as the
// user (internal/clusteraddon), which decides: its refusals (a cluster the
// user may not update, an add-on still used, a version it does not know)
// are shown on the page in its words; the decision point only hides buttons.

// platformGroupAPI is the platform group's version path.
const platformGroupAPI = "/platform/apis/platform.tkestack.io/v1"

func (s *Server) addonRoutes(mux *http.ServeMux) { s.addonRoutesWith(mux, s.authed) }

// addonRoutesWith adds the routes with each handler wrapped by authed
// (tests serve them as a fixed user).
func (s *Server) addonRoutesWith(mux *http.ServeMux, authed func(handlerFunc) http.Handler) {
	mux.Handle("GET /console/platform/addons", authed(s.addonsPage))
	mux.Handle("POST /console/platform/addons/{cluster}/{type}/{op}", authed(s.addonAction))
}

// addonsURL is the page of a cluster's add-ons.
func addonsURL(cluster string) string {
	return Prefix + "/platform/addons?" + url.Values{"cluster": {cluster}}.Encode()
}

type addonsData struct {
	// Clusters are the member clusters the user may see (add-ons go into
	// members, not the global cluster).
	Clusters []choice
	Cluster  string
	Rows     []addonRow
	// Types are the types not installed in the cluster.
	Types []addonTypeRow
	// Err is why the lists could not be read; Refusal why the last action
	// was refused.
	Err, Refusal string
}

type addonRow struct {
	Type, Installed, Desired, Phase, Message, Controller string
	Versions                                             []string
	Terminating                                          bool
	// Action is the URL of the add-on's actions (…/upgrade, …/uninstall).
	Action                   string
	CanUpgrade, CanUninstall bool
}

type addonTypeRow struct {
	Type, Description, Level, Latest, Kinds string
	Versions                                []string
	Action                                  string
	CanInstall                              bool
}

func (s *Server) addonsPage(w http.ResponseWriter, r *request) {
	s.renderAddons(w, r, r.URL.Query().Get("cluster"), "")
}

// renderAddons shows the page of cluster (the first member when none),
// with refusal above the lists.
func (s *Server) renderAddons(w http.ResponseWriter, r *request, cluster, refusal string) {
	items, err := r.listClusters()
	if err != nil {
		r.fail(w, err)
		return
	}
	d := addonsData{Cluster: cluster, Refusal: refusal}
	for _, c := range items {
		if c.Spec.Type == platformv1.ClusterGlobal {
			continue
		}
		label := c.Name
		if c.Spec.DisplayName != "" {
			label = c.Spec.DisplayName + " (" + c.Name + ")"
		}
		d.Clusters = append(d.Clusters, choice{Value: c.Name, Label: label})
	}
	if d.Cluster == "" && len(d.Clusters) > 0 {
		d.Cluster = d.Clusters[0].Value
	}
	if d.Cluster != "" {
		readAddons(r, &d)
	}
	r.page(w, "addons", "platform", "Extension components", d, crumb{"Clusters", "/console/platform/clusters"})
}

// readAddons fills in the cluster's add-ons and the types it may have.
// The API answers for a cluster the user may not see (404).
func readAddons(r *request, d *addonsData) {
	base := platformGroupAPI + "/clusters/" + url.PathEscape(d.Cluster)
	var types platformv1.ClusterAddonTypeList
	var installed platformv1.ClusterAddonList
	if _, msg := r.getJSON(base+"/addontypes", &types); msg != "" {
		d.Err = msg
		return
	}
	if _, msg := r.getJSON(base+"/addons", &installed); msg != "" {
		d.Err = msg
		return
	}
	byType := map[string]platformv1.ClusterAddonType{}
	for _, t := range types.Items {
		byType[t.Type] = t
	}
	sort.Slice(installed.Items, func(i, j int) bool { return installed.Items[i].Spec.Type < installed.Items[j].Spec.Type })
	for _, ca := range installed.Items {
		t := byType[ca.Spec.Type]
		delete(byType, ca.Spec.Type)
		row := addonRow{Type: ca.Spec.Type, Installed: ca.Status.Version, Desired: ca.Spec.Version, Phase: ca.Status.Phase,
			Message: ca.Status.Message, Controller: ca.Spec.Controller, Versions: t.Versions,
			Terminating:  ca.DeletionTimestamp != nil || ca.Status.Phase == platformv1.AddonTerminating,
			Action:       Prefix + "/platform/addons/" + url.PathEscape(d.Cluster) + "/" + url.PathEscape(ca.Spec.Type),
			CanUpgrade:   r.can("", "updateClusteraddon", "clusteraddon:"+ca.Name),
			CanUninstall: r.can("", "deleteClusteraddon", "clusteraddon:"+ca.Name)}
		if row.Phase == "" {
			row.Phase = platformv1.AddonWaiting
		}
		if row.Controller == "" {
			row.Controller = platformv1.AddonControllerPlatform
		}
		d.Rows = append(d.Rows, row)
	}
	mayUpdate := r.can("", "updateCluster", "cluster:"+d.Cluster)
	for _, t := range types.Items {
		if _, left := byType[t.Type]; !left {
			continue
		}
		d.Types = append(d.Types, addonTypeRow{Type: t.Type, Description: t.Description, Level: t.Level, Latest: t.LatestVersion,
			Kinds: strings.Join(t.Kinds, ", "), Versions: t.Versions,
			Action:     Prefix + "/platform/addons/" + url.PathEscape(d.Cluster) + "/" + url.PathEscape(t.Type) + "/install",
			CanInstall: mayUpdate && r.can("", "createClusteraddon", "clusteraddon:"+platformv1.AddonName(d.Cluster, t.Type))})
	}
}

// addonAction installs, upgrades or uninstalls one add-on of a cluster;
// a refusal shows the page again with the API's words.
func (s *Server) addonAction(w http.ResponseWriter, r *request) {
	cluster, typ, op := r.PathValue("cluster"), r.PathValue("type"), r.PathValue("op")
	path := platformGroupAPI + "/clusteraddons/" + url.PathEscape(platformv1.AddonName(cluster, typ))
	version := strings.TrimSpace(r.PostFormValue("version"))
	refuse := func(code int, msg string) {
		if code == http.StatusUnauthorized {
			s.fail(w, r.Request, code, msg)
			return
		}
		s.renderAddons(w, r, cluster, msg)
	}
	var done string
	switch op {
	case "install":
		ca := platformv1.ClusterAddon{TypeMeta: metav1.TypeMeta{APIVersion: platformv1.GroupVersion.String(), Kind: "ClusterAddon"},
			ObjectMeta: metav1.ObjectMeta{Name: platformv1.AddonName(cluster, typ)},
			Spec:       platformv1.ClusterAddonSpec{ClusterName: cluster, Type: typ, Version: version}}
		if r.PostFormValue("controller") == platformv1.AddonControllerExternal {
			ca.Spec.Controller = platformv1.AddonControllerExternal
		}
		body, _ := json.Marshal(&ca)
		if code, out := r.call(http.MethodPost, platformGroupAPI+"/clusteraddons", body); code != http.StatusCreated && code != http.StatusOK {
			refuse(code, statusMessage(code, out))
			return
		}
		done = fmt.Sprintf("%s is being installed in %s", typ, cluster)
	case "upgrade":
		if version == "" {
			refuse(http.StatusUnprocessableEntity, "choose the version to move "+typ+" to")
			return
		}
		// A PUT of the stored object with the new version, as the CLI does:
		// its resourceVersion refuses a change made meanwhile.
		var ca platformv1.ClusterAddon
		if code, msg := r.getJSON(path, &ca); msg != "" {
			refuse(code, msg)
			return
		}
		ca.Spec.Version = version
		body, _ := json.Marshal(&ca)
		if code, out := r.call(http.MethodPut, path, body); code != http.StatusOK {
			refuse(code, statusMessage(code, out))
			return
		}
		done = fmt.Sprintf("%s of %s is moving to %s", typ, cluster, version)
	case "uninstall":
		if r.PostFormValue("force") == "true" {
			// The API deletes the add-on's objects with it only when the
			// add-on carries the force annotation (kstack addon uninstall --force).
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{clusteraddon.AnnotationForce: "true"}}})
			if code, out := r.callContent(http.MethodPatch, path, "application/merge-patch+json", patch); code != http.StatusOK {
				refuse(code, statusMessage(code, out))
				return
			}
		}
		if code, out := r.call(http.MethodDelete, path, nil); code != http.StatusOK && code != http.StatusAccepted {
			refuse(code, statusMessage(code, out))
			return
		}
		done = fmt.Sprintf("%s is being uninstalled from %s", typ, cluster)
	default:
		s.fail(w, r.Request, http.StatusNotFound, "no such add-on operation: "+op)
		return
	}
	s.Log.Info("console add-on operation", "cluster", cluster, "type", typ, "op", op, "version", version, "by", r.user.Name())
	redirect(w, r.Request, addonsURL(cluster)+"&notice="+url.QueryEscape(done))
}
