// Package logagent is kstack's log collector (TKEStack's "Logagent"): it
// tails the CRI log files of pods, files inside containers and files on the
// node, and ships each line as a JSON record to Kafka, Elasticsearch or Loki.
//
// The agent reads its rules from the member cluster it runs in (ConfigMap
// kube-system/kstack-logagent, key config.json; sink credentials in the Secret
// kube-system/kstack-logagent-sinks), so a local cluster and a real one are
// configured the same way: the platform's controller renders Config.
package logagent

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// The objects the agent watches and writes, in --config-namespace.
const (
	ConfigMapName = "kstack-logagent"
	ConfigKey     = "config.json"
	SecretName    = "kstack-logagent-sinks"
	// StatusPrefix + agent name is the ConfigMap an agent writes its status
	// to, under StatusKey.
	StatusPrefix = "kstack-logagent-status-"
	StatusKey    = "status.json"
)

// HostLogDir is the only directory on a node whose files a rule may read.
const HostLogDir = "/var/log"

// Config is the agent's whole configuration: config.json of the ConfigMap.
type Config struct {
	Rules []Rule `json:"rules"`
}

// Rule collects some inputs into some sinks. It is one LogCollector object
// of the platform.
type Rule struct {
	// Name is "<namespace>/<collector name>" of the LogCollector; unique.
	Name string `json:"name"`
	// Namespaces: the standard output of every container of the pods in
	// them; AllNamespaces ("*") is every namespace.
	Namespaces []string `json:"namespaces,omitempty"`
	// Workloads: the standard output of these workloads' pods.
	Workloads []Workload `json:"workloads,omitempty"`
	// ContainerFiles: files inside containers of a workload's pods.
	ContainerFiles []ContainerFile `json:"containerFiles,omitempty"`
	// HostFiles: globs of files on the nodes, absolute, under /var/log/.
	HostFiles []string `json:"hostFiles,omitempty"`
	Sinks     []Sink   `json:"sinks"`
}

// Workload names a workload. Kind is one of WorkloadKinds. Its pods are
// found by their owner references, so a workload created after the rule is
// collected as soon as its pods appear.
type Workload struct {
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
}

// WorkloadKinds are the kinds a Workload may name.
var WorkloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "TApp"}

// ContainerFile is a glob of files inside one container of a workload's pods.
type ContainerFile struct {
	Workload  Workload `json:"workload"`
	Container string   `json:"container"`
	// Path is an absolute glob inside the container ("**" allowed).
	Path string `json:"path"`
}

// Sink types.
const (
	SinkKafka         = "kafka"
	SinkElasticsearch = "elasticsearch"
	SinkLoki          = "loki"
)

// Sink is where a rule's lines go. Exactly the field of Type is set.
type Sink struct {
	Name          string     `json:"name"`
	Type          string     `json:"type"`
	Kafka         *KafkaSink `json:"kafka,omitempty"`
	Elasticsearch *ESSink    `json:"elasticsearch,omitempty"`
	Loki          *LokiSink  `json:"loki,omitempty"`
}

// KafkaSink produces each line to Topic; the record key is the line's
// identity (file and offset), the value the JSON record.
type KafkaSink struct {
	Brokers  []string `json:"brokers"`
	Topic    string   `json:"topic"`
	Username string   `json:"username,omitempty"`
	// PasswordKey is the key in the sinks Secret holding the password; with
	// Username it turns on SASL PLAIN.
	PasswordKey string `json:"passwordKey,omitempty"`
}

// ESSink sends lines with _bulk "create" actions and a deterministic _id, so
// a line delivered twice is stored once.
type ESSink struct {
	// Addresses are base URLs; "/_bulk" is appended to the path (a query
	// string is kept, e.g. VictoriaLogs' _msg_field).
	Addresses   []string `json:"addresses"`
	Index       string   `json:"index"`
	Username    string   `json:"username,omitempty"`
	PasswordKey string   `json:"passwordKey,omitempty"`
}

// LokiSink pushes to URL + /loki/api/v1/push. Streams are labelled cluster,
// namespace, pod, container and rule, plus Labels.
type LokiSink struct {
	URL         string            `json:"url"`
	TenantID    string            `json:"tenantID,omitempty"`
	Username    string            `json:"username,omitempty"`
	PasswordKey string            `json:"passwordKey,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	// StructuredMetadata also sends node, workload, stream and file as Loki
	// structured metadata (Loki 3 with schema v13, or VictoriaLogs).
	StructuredMetadata bool `json:"structuredMetadata,omitempty"`
}

// Validate checks the whole config: names unique, inputs well formed, host
// files under /var/log. The platform checks the same before rendering; the
// agent checks again because it is the one opening files on the node.
func (c *Config) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i := range c.Rules {
		r := &c.Rules[i]
		if seen[r.Name] {
			errs = append(errs, fmt.Errorf("rule %q: the name is used twice", r.Name))
		}
		seen[r.Name] = true
		if err := r.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Validate checks one rule.
func (r *Rule) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("rule %q: "+format, append([]any{r.Name}, args...)...))
	}
	if r.Name == "" {
		add("no name")
	}
	if len(r.Namespaces)+len(r.Workloads)+len(r.ContainerFiles)+len(r.HostFiles) == 0 {
		add("no inputs")
	}
	for _, ns := range r.Namespaces {
		if ns == "" {
			add("an empty namespace")
		}
	}
	for _, w := range r.Workloads {
		if err := w.validate(); err != nil {
			add("%v", err)
		}
	}
	for _, cf := range r.ContainerFiles {
		if err := cf.validate(); err != nil {
			add("%v", err)
		}
	}
	for _, h := range r.HostFiles {
		if err := CheckHostFile(h); err != nil {
			add("%v", err)
		}
	}
	if len(r.Sinks) == 0 {
		add("no sinks")
	}
	names := map[string]bool{}
	for _, s := range r.Sinks {
		if names[s.Name] {
			add("sink %q is named twice", s.Name)
		}
		names[s.Name] = true
		if err := s.validate(); err != nil {
			add("sink %q: %v", s.Name, err)
		}
	}
	return errors.Join(errs...)
}

func (w Workload) validate() error {
	if w.Namespace == "" || w.Name == "" {
		return fmt.Errorf("workload %s/%s: namespace and name are required", w.Namespace, w.Name)
	}
	for _, k := range WorkloadKinds {
		if w.Kind == k {
			return nil
		}
	}
	return fmt.Errorf("workload %s/%s: kind %q is not one of %s", w.Namespace, w.Name, w.Kind, strings.Join(WorkloadKinds, ", "))
}

func (cf ContainerFile) validate() error {
	var errs []error
	if err := cf.Workload.validate(); err != nil {
		errs = append(errs, fmt.Errorf("container file %s: %w", cf.Path, err))
	}
	if cf.Container == "" {
		errs = append(errs, fmt.Errorf("container file %s: no container", cf.Path))
	}
	if !path.IsAbs(cf.Path) || path.Clean(cf.Path) != cf.Path || !doublestar.ValidatePattern(cf.Path) {
		errs = append(errs, fmt.Errorf("container file %q: the path must be an absolute, clean glob", cf.Path))
	}
	return errors.Join(errs...)
}

// CheckHostFile refuses a host file glob outside /var/log: it must be
// absolute and clean (no "..") and start with /var/log/.
func CheckHostFile(glob string) error {
	if !path.IsAbs(glob) || path.Clean(glob) != glob || !strings.HasPrefix(glob, HostLogDir+"/") {
		return fmt.Errorf("host file %q refused: only absolute, clean paths under %s/ may be read", glob, HostLogDir)
	}
	if !doublestar.ValidatePattern(glob) {
		return fmt.Errorf("host file %q: not a valid glob", glob)
	}
	return nil
}

func (s Sink) validate() error {
	if s.Name == "" {
		return errors.New("no name")
	}
	set := 0
	for _, p := range []bool{s.Kafka != nil, s.Elasticsearch != nil, s.Loki != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		return errors.New("exactly one of kafka, elasticsearch and loki must be set")
	}
	switch s.Type {
	case SinkKafka:
		if s.Kafka == nil || len(s.Kafka.Brokers) == 0 || s.Kafka.Topic == "" {
			return errors.New("kafka needs brokers and a topic")
		}
	case SinkElasticsearch:
		if s.Elasticsearch == nil || len(s.Elasticsearch.Addresses) == 0 || s.Elasticsearch.Index == "" {
			return errors.New("elasticsearch needs addresses and an index")
		}
	case SinkLoki:
		if s.Loki == nil || s.Loki.URL == "" {
			return errors.New("loki needs a url")
		}
	default:
		return fmt.Errorf("type %q is not kafka, elasticsearch or loki", s.Type)
	}
	return nil
}

// doublestarGlob lists the regular files (symlinks to them included, if
// they stay inside r) matching pattern in r.
func doublestarGlob(r *os.Root, pattern string) ([]string, error) {
	return doublestar.Glob(r.FS(), pattern, doublestar.WithFilesOnly())
}
