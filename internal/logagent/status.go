package logagent

import "time"

// Status is what one agent reports in its ConfigMap
// <config namespace>/kstack-logagent-status-<agent name>, key status.json.
// The platform sums it over agents into each LogCollector's status.
type Status struct {
	Agent   string    `json:"agent"`
	Cluster string    `json:"cluster,omitempty"`
	Node    string    `json:"node,omitempty"`
	Updated time.Time `json:"updated"`
	// ConfigVersion is the resourceVersion of the ConfigMap last applied.
	ConfigVersion string `json:"configVersion,omitempty"`
	// ConfigError says why the ConfigMap could not be read as a whole.
	ConfigError string       `json:"configError,omitempty"`
	Rules       []RuleStatus `json:"rules"`
}

// RuleStatus is one rule on this agent.
type RuleStatus struct {
	Rule string `json:"rule"`
	// Error: why the rule (or a part of it) is not applied, e.g. a host file
	// outside /var/log.
	Error string `json:"error,omitempty"`
	// Files is how many files this agent reads for the rule now.
	Files int          `json:"files"`
	Sinks []SinkStatus `json:"sinks"`
}

// SinkStatus is one sink of a rule on this agent. The counters are totals
// kept across restarts of the agent (in --state-dir).
type SinkStatus struct {
	Sink string `json:"sink"`
	Type string `json:"type"`
	// Delivered lines, acknowledged by the sink.
	Delivered int64 `json:"delivered"`
	// Queued lines (and their bytes) wait in the on-disk queue.
	Queued      int64 `json:"queued"`
	QueuedBytes int64 `json:"queuedBytes"`
	// Dropped lines: the queue was full (--queue-bytes), or the sink refused
	// them for good (e.g. a mapping error); LastError says which.
	Dropped       int64      `json:"dropped"`
	LastError     string     `json:"lastError,omitempty"`
	LastErrorTime *time.Time `json:"lastErrorTime,omitempty"`
	// Healthy is false while deliveries fail.
	Healthy bool `json:"healthy"`
}
