package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestStopStart(t *testing.T) {
	s := New(t)
	ctx := context.Background()
	query := func() error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		c, err := pgx.Connect(cctx, s.DSN)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		var n int
		return c.QueryRow(cctx, "SELECT 1").Scan(&n)
	}
	if err := query(); err != nil {
		t.Fatalf("query a fresh server: %v", err)
	}
	s.Stop()
	if err := query(); err == nil {
		t.Fatal("a stopped server answered")
	}
	s.Start()
	if err := query(); err != nil {
		t.Fatalf("query the restarted server: %v", err)
	}
}
