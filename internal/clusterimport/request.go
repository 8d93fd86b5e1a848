// Package clusterimport turns what a user gives to import a cluster (a
// kubeconfig, or an address with a CA and a token or client certificate) into
// a connection, checks it live without writing anything into the cluster,
// and says precisely what is wrong when it cannot be used.
package clusterimport

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
)

// Request is a cluster to import.
type Request struct {
	platformv1.ClusterConnection `json:",inline"`
	// TenantID owns the cluster; the gateway sets it to the caller's.
	TenantID string `json:"-"`
}

// FromKubeconfig reads the server and credential of one context of a
// kubeconfig (the current one when context is empty).
func FromKubeconfig(data []byte, context string) (*Request, error) {
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("the kubeconfig cannot be read: %w", err)
	}
	if context == "" {
		context = cfg.CurrentContext
	}
	if context == "" {
		return nil, errors.New("the kubeconfig has no current-context: name one with --context")
	}
	kctx, ok := cfg.Contexts[context]
	if !ok {
		names := make([]string, 0, len(cfg.Contexts))
		for n := range cfg.Contexts {
			names = append(names, n)
		}
		return nil, fmt.Errorf("the kubeconfig has no context %q (it has: %v)", context, names)
	}
	cluster, ok := cfg.Clusters[kctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("context %q names cluster %q, which the kubeconfig does not define", context, kctx.Cluster)
	}
	user, ok := cfg.AuthInfos[kctx.AuthInfo]
	if !ok {
		return nil, fmt.Errorf("context %q names user %q, which the kubeconfig does not define", context, kctx.AuthInfo)
	}
	if user.Exec != nil || user.AuthProvider != nil {
		return nil, fmt.Errorf("user %q of context %q gets its credential from a plugin (exec or auth-provider), which the platform cannot run: import with a token or a client certificate instead (e.g. a ServiceAccount token)", kctx.AuthInfo, context)
	}
	if user.Username != "" || user.Password != "" {
		return nil, fmt.Errorf("user %q of context %q uses basic auth, which Kubernetes no longer supports: use a token or a client certificate", kctx.AuthInfo, context)
	}
	r := &Request{ClusterConnection: platformv1.ClusterConnection{
		DisplayName:   context,
		Server:        cluster.Server,
		CACert:        cluster.CertificateAuthorityData,
		TLSServerName: cluster.TLSServerName,
		Token:         user.Token,
		ClientCert:    user.ClientCertificateData,
		ClientKey:     user.ClientKeyData,
	}}
	if cluster.CertificateAuthority != "" || user.ClientCertificate != "" || user.ClientKey != "" || user.TokenFile != "" {
		// File references: load them the way kubectl would.
		rc, err := clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("the kubeconfig's context %q cannot be used: %w", context, err)
		}
		if err := rest.LoadTLSFiles(rc); err != nil {
			return nil, fmt.Errorf("reading the files the kubeconfig names: %w", err)
		}
		r.CACert, r.ClientCert, r.ClientKey = rc.CAData, rc.CertData, rc.KeyData
		if rc.BearerToken != "" {
			r.Token = rc.BearerToken
		}
	}
	if cluster.InsecureSkipTLSVerify {
		return nil, fmt.Errorf("cluster %q of the kubeconfig skips TLS verification; the platform requires a CA to verify the server", kctx.Cluster)
	}
	return r, r.Check()
}

// Check validates the request's form, before anything is dialled.
func (r *Request) Check() error {
	u, err := url.Parse(r.Server)
	if err != nil || u.Host == "" {
		return fmt.Errorf("invalid server address %q: want https://HOST:PORT", r.Server)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("server address %q is not https: the platform only talks to clusters over TLS", r.Server)
	}
	hasCert := len(r.ClientCert) > 0 || len(r.ClientKey) > 0
	switch {
	case r.Token == "" && !hasCert:
		return errors.New("no credential: give a token, or a client certificate and key")
	case hasCert && (len(r.ClientCert) == 0 || len(r.ClientKey) == 0):
		return errors.New("a client certificate needs both the certificate and its key")
	}
	if len(r.CACert) == 0 {
		return errors.New("no CA certificate: give the CA that signs the server's certificate (--ca), so that the platform can verify it")
	}
	if len(r.DisplayName) > 63 {
		return fmt.Errorf("display name %q is longer than 63 characters", r.DisplayName)
	}
	return nil
}

// RESTConfig is a client configuration for the request's credential.
func (r *Request) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:        r.Server,
		BearerToken: r.Token,
		Timeout:     10 * time.Second,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: r.CACert, CertData: r.ClientCert, KeyData: r.ClientKey, ServerName: r.TLSServerName,
		},
		QPS: 50, Burst: 100,
	}
}
