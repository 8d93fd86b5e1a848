package clusterimport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/kubernetes"
)

// MinVersion is the oldest Kubernetes the platform manages.
var MinVersion = utilversion.MustParseGeneric("1.26.0")

// Result is what live validation learned about the cluster.
type Result struct {
	Version string
	// UID is the UID of the kube-system namespace: the cluster's identity.
	UID string
}

// Permission is one right the platform needs in a member cluster.
type Permission struct {
	Verb, Group, Resource string
}

func (p Permission) String() string {
	r := p.Resource
	if p.Group != "" {
		r += "." + p.Group
	}
	return p.Verb + " " + r
}

// Required lists what the platform's credential must be allowed to do.
var Required = []Permission{
	{"list", "", "nodes"}, {"watch", "", "nodes"},
	{"list", "", "namespaces"}, {"list", "", "pods"},
	{"impersonate", "", "users"}, {"impersonate", "", "groups"},
	{"create", "rbac.authorization.k8s.io", "clusterrolebindings"},
	{"delete", "rbac.authorization.k8s.io", "clusterrolebindings"},
}

// DialTimeout bounds how long the cluster may take to accept a connection.
const DialTimeout = 5 * time.Second

// Validate checks the request against the live cluster. It only reads (and
// asks SelfSubjectAccessReviews, which store nothing).
func Validate(ctx context.Context, r *Request) (*Result, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(r.Server)
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	conn, err := (&net.Dialer{Timeout: DialTimeout}).DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s within %s (%v): check the address, and that the platform's host can reach it", r.Server, DialTimeout, err)
	}
	conn.Close()

	cfg := r.RESTConfig()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("the credential cannot be used: %w", err)
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/version").Timeout(10 * time.Second).DoRaw(ctx)
	if err != nil {
		return nil, explain(r.Server, err)
	}
	var info struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := json.Unmarshal(raw, &info); err != nil || info.GitVersion == "" {
		return nil, fmt.Errorf("%s does not look like a Kubernetes API server (its /version is not a Kubernetes version)", r.Server)
	}
	v, err := utilversion.ParseGeneric(info.GitVersion)
	if err != nil {
		return nil, fmt.Errorf("%s reports an unreadable version %q", r.Server, info.GitVersion)
	}
	if v.LessThan(MinVersion) {
		return nil, fmt.Errorf("the cluster runs Kubernetes %s; the platform manages %s or newer: upgrade the cluster first", info.GitVersion, "1.26")
	}

	var missing []string
	for _, p := range Required {
		ssar := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: p.Verb, Group: p.Group, Resource: p.Resource},
		}}
		res, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, ssar, metav1.CreateOptions{})
		if err != nil {
			return nil, explain(r.Server, err)
		}
		if !res.Status.Allowed {
			missing = append(missing, p.String())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the credential lacks permissions the platform needs: %s; grant them (for example bind the credential's user to cluster-admin) and try again", strings.Join(missing, ", "))
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		return nil, explain(r.Server, err)
	}
	return &Result{Version: info.GitVersion, UID: string(ns.UID)}, nil
}

// explain turns a client error into what the user should know and do.
func explain(server string, err error) error {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.As(err, &unknownCA):
		return fmt.Errorf("TLS verification of %s failed: its certificate is not signed by the CA given; give the cluster's own CA", server)
	case errors.As(err, &hostErr):
		return fmt.Errorf("TLS verification of %s failed: its certificate is not valid for that name (%v)", server, hostErr)
	case errors.As(err, &invalid):
		return fmt.Errorf("TLS verification of %s failed: %v", server, invalid)
	case errors.As(err, &recordErr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%s does not speak TLS (is it plain HTTP?): give the https address of the Kubernetes API server", server)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("%s refused the credential (401 Unauthorized): the token is wrong or expired, or the client certificate is not trusted", server)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%s forbids the credential to read what the platform needs: %v", server, err)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s does not look like a Kubernetes API server (404 where the API should be)", server)
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return fmt.Errorf("%s answered %d: %s; is it a Kubernetes API server?", server, status.Status().Code, status.Status().Message)
	}
	return fmt.Errorf("talking to %s: %w", server, err)
}
