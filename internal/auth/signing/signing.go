// Package signing keeps the keys that sign the platform's tokens: RSA keys
// in one Secret of the system namespace, shared by every platform replica,
// rotated on a schedule, with retired keys kept long enough that the
// tokens they signed can still be verified until they expire.
package signing

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"sort"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// SecretName is the Secret that holds the keys.
const SecretName = "kstack-signing-keys"

const dataKey = "keys.json"

// Key is one signing key.
type Key struct {
	ID      string
	Created time.Time
	Private *rsa.PrivateKey
}

type storedKey struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	PEM     string    `json:"pem"`
}

// Keys loads, rotates and serves the signing keys.
type Keys struct {
	Client    kubernetes.Interface
	Namespace string
	// RotateAfter is how old the newest key may grow before a new one signs.
	RotateAfter time.Duration
	// Retain is how long a retired key stays for verification: at least
	// the longest token lifetime.
	Retain time.Duration
	// Now is the clock (tests move it).
	Now func() time.Time

	mu   sync.RWMutex
	keys []Key // newest first
}

func (k *Keys) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// Sync reads the Secret, creates it or adds a new key when the newest is
// due, drops keys past retention, and keeps the result. Replicas race
// safely: the update carries the resourceVersion it read.
func (k *Keys) Sync(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := k.syncOnce(ctx)
		if err == nil || attempt == 4 || !(apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) {
			return err
		}
	}
}

func (k *Keys) syncOnce(ctx context.Context) error {
	secrets := k.Client.CoreV1().Secrets(k.Namespace)
	sec, err := secrets.Get(ctx, SecretName, metav1.GetOptions{})
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading the signing keys (Secret %s/%s): %w", k.Namespace, SecretName, err)
	}
	var keys []Key
	if exists {
		if keys, err = decode(sec.Data[dataKey]); err != nil {
			return fmt.Errorf("the signing keys in Secret %s/%s are corrupt (%w): delete the Secret to start over, which logs everyone out", k.Namespace, SecretName, err)
		}
	}
	now := k.now()
	changed := false
	if len(keys) == 0 || now.Sub(keys[0].Created) >= k.RotateAfter {
		nk, err := newKey(now)
		if err != nil {
			return err
		}
		keys = append([]Key{nk}, keys...)
		changed = true
	}
	// A key retired when its successor was made is kept for Retain after that.
	kept := keys[:1]
	for i := 1; i < len(keys); i++ {
		if now.Sub(keys[i-1].Created) < k.Retain {
			kept = append(kept, keys[i])
		} else {
			changed = true
		}
	}
	keys = kept
	if changed {
		data, err := encode(keys)
		if err != nil {
			return err
		}
		if exists {
			sec.Data = map[string][]byte{dataKey: data}
			_, err = secrets.Update(ctx, sec, metav1.UpdateOptions{})
		} else {
			_, err = secrets.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: k.Namespace},
				Data:       map[string][]byte{dataKey: data},
			}, metav1.CreateOptions{})
		}
		if err != nil {
			return err
		}
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}

// Run syncs every interval until ctx is done, so that every replica sees
// rotations made by the others.
func (k *Keys) Run(ctx context.Context, interval time.Duration, logErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Sync(ctx); err != nil && logErr != nil {
				logErr(err)
			}
		}
	}
}

// Current is the key that signs.
func (k *Keys) Current() (Key, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if len(k.keys) == 0 {
		return Key{}, fmt.Errorf("no signing key loaded yet")
	}
	return k.keys[0], nil
}

// All are the keys that verify, newest first.
func (k *Keys) All() []Key {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return append([]Key(nil), k.keys...)
}

// Public finds a verification key by ID.
func (k *Keys) Public(id string) (*rsa.PublicKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, key := range k.keys {
		if key.ID == id {
			return &key.Private.PublicKey, true
		}
	}
	return nil, false
}

// JWKS is the public key set.
func (k *Keys) JWKS() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, key := range k.All() {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &key.Private.PublicKey, KeyID: key.ID, Algorithm: string(jose.RS256), Use: "sig"})
	}
	return set
}

func newKey(now time.Time) (Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Key{}, fmt.Errorf("generating a signing key: %w", err)
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return Key{}, err
	}
	return Key{ID: hex.EncodeToString(b), Created: now.UTC().Truncate(time.Second), Private: priv}, nil
}

func encode(keys []Key) ([]byte, error) {
	out := make([]storedKey, 0, len(keys))
	for _, k := range keys {
		der := x509.MarshalPKCS1PrivateKey(k.Private)
		out = append(out, storedKey{ID: k.ID, Created: k.Created, PEM: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}))})
	}
	return json.Marshal(out)
}

func decode(data []byte) ([]Key, error) {
	var in []storedKey
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, err
	}
	keys := make([]Key, 0, len(in))
	for _, s := range in {
		b, _ := pem.Decode([]byte(s.PEM))
		if b == nil {
			return nil, fmt.Errorf("key %s holds no PEM block", s.ID)
		}
		priv, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", s.ID, err)
		}
		keys = append(keys, Key{ID: s.ID, Created: s.Created, Private: priv})
	}
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].Created.After(keys[j].Created) })
	return keys, nil
}
