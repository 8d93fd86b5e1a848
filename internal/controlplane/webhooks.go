package controlplane

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/kstack/kstack/internal/pki"
)

// WebhookClient is the identity the kube-apiserver presents to the
// admission webhooks it calls (the platform's checks on stored objects),
// so that they answer it alone.
var WebhookClient = Identity{"apiserver-webhook-client", "kube-apiserver-webhook-client", nil}

// AdmissionConfig is the apiserver's admission configuration; its webhook
// kubeconfig says which client certificate to show every webhook.
func (l Layout) AdmissionConfig() string { return filepath.Join(l.Dir, "admission-config.yaml") }
func (l Layout) webhookKubeconfig() string {
	return filepath.Join(l.Dir, "kubeconfig", "webhook-client.kubeconfig")
}

// EnsureAdmissionConfig issues the webhook client certificate when the PKI
// lacks it (data dirs made by older versions) and writes the admission
// configuration, again on every start.
func EnsureAdmissionConfig(l Layout) error {
	if _, err := os.Stat(l.PKI(WebhookClient.File + ".crt")); errors.Is(err, fs.ErrNotExist) {
		ca, key, err := pki.LoadPair(l.PKIDir(), "ca")
		if err != nil {
			return err
		}
		c, k, err := (&pki.CA{Cert: ca, Key: key}).Issue(pki.CertSpec{CommonName: WebhookClient.CommonName, Client: true})
		if err != nil {
			return err
		}
		if err := pki.WritePair(l.PKIDir(), WebhookClient.File, c, k); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	// "*" is the user for every webhook host.
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
users:
- name: "*"
  user:
    client-certificate: %s
    client-key: %s
`, l.PKI(WebhookClient.File+".crt"), l.PKI(WebhookClient.File+".key"))
	if err := os.MkdirAll(l.KubeconfigDir(), 0o700); err != nil {
		return err
	}
	if err := pki.WriteFile(l.webhookKubeconfig(), []byte(kc)); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ValidatingAdmissionWebhook
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: WebhookAdmissionConfiguration
    kubeConfigFile: %[1]s
- name: MutatingAdmissionWebhook
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: WebhookAdmissionConfiguration
    kubeConfigFile: %[1]s
`, l.webhookKubeconfig())
	return pki.WriteFile(l.AdmissionConfig(), []byte(cfg))
}

// AuditWebhookKubeconfig tells the kube-apiserver where to send its audit
// events: the platform's receiver (audit.ReceiverServer), which records the
// writes that did not come through the gateway.
func (l Layout) AuditWebhookKubeconfig() string {
	return filepath.Join(l.Dir, "kubeconfig", "audit-webhook.kubeconfig")
}

// AuditWebhookServing is the receiver's serving certificate pair (without
// the .crt/.key suffix) in the PKI directory.
const AuditWebhookServing = "audit-webhook"

// EnsureAuditWebhook issues the receiver's serving certificate (for
// 127.0.0.1) when missing and writes the apiserver's audit webhook
// kubeconfig for port.
func EnsureAuditWebhook(l Layout, port int) error {
	if _, err := os.Stat(l.PKI(AuditWebhookServing + ".crt")); errors.Is(err, fs.ErrNotExist) {
		ca, key, err := pki.LoadPair(l.PKIDir(), "ca")
		if err != nil {
			return err
		}
		c, k, err := (&pki.CA{Cert: ca, Key: key}).Issue(pki.CertSpec{CommonName: "kstack-audit-receiver", Server: true, IPs: []net.IP{net.ParseIP("127.0.0.1")}})
		if err != nil {
			return err
		}
		if err := pki.WritePair(l.PKIDir(), AuditWebhookServing, c, k); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kstack-audit
  cluster:
    server: https://127.0.0.1:%d/apiserver-audit
    certificate-authority: %s
users:
- name: kube-apiserver
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: kstack-audit
  context:
    cluster: kstack-audit
    user: kube-apiserver
current-context: kstack-audit
`, port, l.PKI("ca.crt"), l.PKI(WebhookClient.File+".crt"), l.PKI(WebhookClient.File+".key"))
	if err := os.MkdirAll(l.KubeconfigDir(), 0o700); err != nil {
		return err
	}
	return pki.WriteFile(l.AuditWebhookKubeconfig(), []byte(kc))
}
