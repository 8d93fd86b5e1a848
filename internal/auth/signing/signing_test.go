package signing

import (
	"context"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
)

func TestRotationKeepsRetiredKeysForRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cs := fake.NewClientset()
	k := &Keys{Client: cs, Namespace: "kstack-system", RotateAfter: 24 * time.Hour, Retain: 2 * time.Hour, Now: func() time.Time { return now }}
	if err := k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	first := current(t, k)
	if err := k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if again := current(t, k); again.ID != first.ID {
		t.Fatalf("a second sync before rotation is due changed the key: %s -> %s", first.ID, again.ID)
	}
	// A second replica reads the same key.
	other := &Keys{Client: cs, Namespace: "kstack-system", RotateAfter: 24 * time.Hour, Retain: 2 * time.Hour, Now: func() time.Time { return now }}
	if err := other.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if o := current(t, other); o.ID != first.ID {
		t.Fatalf("replicas disagree on the signing key: %s vs %s", o.ID, first.ID)
	}

	now = now.Add(25 * time.Hour)
	if err := k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	second := current(t, k)
	if second.ID == first.ID {
		t.Fatal("the key was not rotated after RotateAfter")
	}
	if _, ok := k.Public(first.ID); !ok {
		t.Fatal("the retired key was dropped at once: tokens it signed could no longer be verified")
	}
	if n := len(k.JWKS().Keys); n != 2 {
		t.Fatalf("JWKS holds %d keys, want 2 (new and retired)", n)
	}

	now = now.Add(3 * time.Hour)
	if err := k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.Public(first.ID); ok {
		t.Fatal("the retired key outlived its retention")
	}
	if cur := current(t, k); cur.ID != second.ID {
		t.Fatal("the current key changed before its rotation was due")
	}
}

// current is the current key; a missing one fails the test, so that two
// missing keys never compare equal.
func current(t *testing.T, k *Keys) Key {
	t.Helper()
	cur, err := k.Current()
	if err != nil {
		t.Fatal(err)
	}
	if cur.ID == "" {
		t.Fatal("the current key has no ID")
	}
	return cur
}
