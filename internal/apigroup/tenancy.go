package apigroup

import (
	authv1 "github.com/kstack/kstack/api/auth/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
)

// The tenancy that every group's tenant-scoped kinds share, and that the
// gateway enforces for them.
const (
	// LabelTenant carries an object's tenant, so that the API server
	// filters lists by it.
	LabelTenant = authv1.LabelTenant
	// DefaultTenant owns what names no tenant.
	DefaultTenant = authv1.DefaultTenant
	// ProxyGroup is the group every proxied request carries, which each
	// member's kstack binding grants.
	ProxyGroup = platformv1.ProxyGroup
	// AdminsGroup is carried by platform administrators' requests through
	// the gateway; the global cluster grants it cluster-admin.
	AdminsGroup = "kstack:admins"
	// ExtraTenant, ExtraUsername and ExtraReplica are the user extras the
	// gateway sets when it impersonates a caller in the global cluster:
	// the admission webhook reads the caller from them (never from the
	// username's spelling), and each replica's webhook validates only the
	// writes of its own gateway, which hold its locks.
	ExtraTenant   = "kstack.io/tenant"
	ExtraUsername = "kstack.io/username"
	ExtraReplica  = "kstack.io/replica"
	// GlobalCluster is the platform's own control plane as a cluster.
	GlobalCluster = platformv1.GlobalClusterName
)
