package recordstore

import (
	"context"
	"encoding/json"
	"time"
)

// Record is one stored document (an audit event, a Kubernetes event, an
// alarm, a notification) with the fields that searches filter on pulled out
// of it.
type Record struct {
	ID        int64     `json:"id,omitempty"` // assigned by the store
	Kind      string    `json:"kind"`         // "audit", "event", "alarm", "notification", ...
	Time      time.Time `json:"time"`
	Tenant    string    `json:"tenant,omitempty"`
	User      string    `json:"user,omitempty"`
	Cluster   string    `json:"cluster,omitempty"`
	Namespace string    `json:"namespace,omitempty"`
	Project   string    `json:"project,omitempty"`
	Resource  string    `json:"resource,omitempty"`
	Name      string    `json:"name,omitempty"`
	Verb      string    `json:"verb,omitempty"`
	Code      int       `json:"code,omitempty"`
	// UID, when set, is unique per Kind: appending a record whose UID is
	// stored replaces that row (a Kubernetes event seen again with a higher
	// count), so there are no duplicates.
	UID  string          `json:"uid,omitempty"`
	Data json.RawMessage `json:"data,omitempty"` // the document (an audit.k8s.io/v1 Event, a core/v1 Event)
}

// Appender takes records to store.
type Appender interface {
	Append(ctx context.Context, recs []Record) error
}
