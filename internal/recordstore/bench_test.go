package recordstore

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkAppendSQLite: Append in batches of 500 of audit-like records.
func BenchmarkAppendSQLite(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "r.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := json.RawMessage(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods/x","verb":"get","user":{"username":"alice"},"padding":"` + fmt.Sprintf("%0400d", 0) + `"}`)
	batch := make([]Record, 500)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := time.Now()
		for j := range batch {
			k := i*500 + j
			batch[j] = Record{Kind: "audit", Time: now, Tenant: fmt.Sprintf("t%d", k%50), User: fmt.Sprintf("u%d", k%2000),
				Cluster: fmt.Sprintf("c%d", k%20), Namespace: fmt.Sprintf("ns%d", k%200), Resource: fmt.Sprintf("r%d", k%30), Verb: fmt.Sprintf("v%d", k%8), Code: 200, Data: data}
		}
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "records/s")
}
