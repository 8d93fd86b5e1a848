package v1

// The bodies of the platform group's actions, which the CLI and the console
// send. They are not stored objects.

// ClusterConnection is how the platform reaches a cluster: its API address
// and one credential (a token, or a client certificate and key).
// +kubebuilder:object:generate=false
type ClusterConnection struct {
	DisplayName   string `json:"displayName,omitempty"`
	Server        string `json:"server"`
	CACert        []byte `json:"caCert,omitempty"`
	TLSServerName string `json:"tlsServerName,omitempty"`
	Token         string `json:"token,omitempty"`
	ClientCert    []byte `json:"clientCert,omitempty"`
	ClientKey     []byte `json:"clientKey,omitempty"`
}

// ImportRequest is the body of POST /platform/apis/platform.tkestack.io/v1/clusterimports
// (and of PUT .../clusters/{id}/credential): a kubeconfig (and optional
// context), or an address with a CA and a token or client certificate.
// +kubebuilder:object:generate=false
type ImportRequest struct {
	ClusterConnection `json:",inline"`
	Kubeconfig        string `json:"kubeconfig,omitempty"`
	Context           string `json:"context,omitempty"`
	// Type is Imported (default) or Local, for clusters that `kstack local` runs.
	Type ClusterType `json:"type,omitempty"`
}

// ClusterAddonType is one add-on type the platform offers, as GET
// /platform/apis/platform.tkestack.io/v1/clusters/{id}/addontypes lists
// them (TKEStack's ClusterAddonType).
// +kubebuilder:object:generate=false
type ClusterAddonType struct {
	Type        string `json:"type"`
	Description string `json:"description"`
	// Level is Basic or Enhance, as TKEStack classes add-ons.
	Level         string   `json:"level"`
	LatestVersion string   `json:"latestVersion"`
	Versions      []string `json:"versions"`
	// Kinds are the kinds the add-on brings (e.g. cronhpas.extensions.tkestack.io).
	Kinds []string `json:"kinds"`
}

// ClusterAddonTypeList is the answer of the addontypes route.
// +kubebuilder:object:generate=false
type ClusterAddonTypeList struct {
	Kind       string             `json:"kind"`
	APIVersion string             `json:"apiVersion"`
	Items      []ClusterAddonType `json:"items"`
}
