package logagent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// Record is one delivered line: the JSON value sent to Kafka and
// Elasticsearch (Loki gets Message as the line and the rest as labels).
type Record struct {
	Time         time.Time `json:"time"`
	Cluster      string    `json:"cluster,omitempty"`
	Namespace    string    `json:"namespace,omitempty"`
	Pod          string    `json:"pod,omitempty"`
	Container    string    `json:"container,omitempty"`
	WorkloadKind string    `json:"workloadKind,omitempty"`
	WorkloadName string    `json:"workloadName,omitempty"`
	Node         string    `json:"node,omitempty"`
	// Stream is stdout or stderr (container standard output only).
	Stream string `json:"stream,omitempty"`
	// File is the path read (container files: inside the container; host
	// files: on the node).
	File    string `json:"file,omitempty"`
	Message string `json:"message"`
	Rule    string `json:"rule"`
}

// item is what waits in a sink's queue.
type item struct {
	// Source identifies the file (path and inode) and Offset the line in it:
	// together, the line's identity, the same when a line is read again.
	Source string          `json:"s"`
	Offset int64           `json:"o"`
	Record json.RawMessage `json:"r"`

	rec *Record // decoded Record, by the senders that need it
}

// key is the Kafka record key: the line's identity.
func (it *item) key() string { return it.Source + "@" + strconv.FormatInt(it.Offset, 10) }

// docID is the Elasticsearch _id: the line's identity and the rule (two
// rules writing one index store the line twice, once for each).
func (it *item) docID(rule string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + it.key()))
	return hex.EncodeToString(h[:20])
}

func (it *item) record() (*Record, error) {
	if it.rec == nil {
		var r Record
		if err := json.Unmarshal(it.Record, &r); err != nil {
			return nil, err
		}
		it.rec = &r
	}
	return it.rec, nil
}
