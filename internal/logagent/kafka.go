package logagent

import (
	"context"
	"hash/fnv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

type kafkaSink struct {
	cl    *kgo.Client
	topic string
}

func newKafka(k *KafkaSink, password string) (*kafkaSink, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.Brokers...),
		kgo.DefaultProduceTopic(k.Topic),
		// All lines of one path go to one partition, rotated files
		// included, so a consumer sees them in order; hashing the whole key
		// (path#dev:ino@offset) would scatter them.
		kgo.RecordPartitioner(kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
			return func(r *kgo.Record, n int) int {
				src := string(r.Key)
				if i := strings.LastIndexByte(src, '#'); i >= 0 {
					src = src[:i]
				}
				h := fnv.New32a()
				h.Write([]byte(src))
				return int(h.Sum32() % uint32(n))
			}
		})),
		// Fail a batch rather than hold it forever; the sender retries it
		// from the queue.
		kgo.RecordDeliveryTimeout(20 * time.Second),
		kgo.ClientID("kstack-logagent"),
	}
	if k.Username != "" {
		opts = append(opts, kgo.SASL(plain.Auth{User: k.Username, Pass: password}.AsMechanism()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &kafkaSink{cl: cl, topic: k.Topic}, nil
}

// deliver produces the batch and waits for every record. The idempotent
// producer (kgo's default) keeps a partition's records in order and fails
// the rest of a partition after a failed record, so the successful head of
// the batch is what may be acked.
func (k *kafkaSink) deliver(ctx context.Context, items []*item) (int, int, error, error) {
	recs := make([]*kgo.Record, len(items))
	for i, it := range items {
		recs[i] = &kgo.Record{Key: []byte(it.key()), Value: it.Record, Topic: k.topic}
	}
	// Results come in the order the promises fired, not the batch's.
	failed := map[*kgo.Record]error{}
	for _, r := range k.cl.ProduceSync(ctx, recs...) {
		if r.Err != nil {
			failed[r.Record] = r.Err
		}
	}
	for i, r := range recs {
		if err := failed[r]; err != nil {
			// Records after i that did succeed are sent again: at least
			// once, on failures only.
			return i, 0, nil, err
		}
	}
	return len(items), 0, nil, nil
}

func (k *kafkaSink) close() { k.cl.Close() }
