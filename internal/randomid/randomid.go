// Package randomid makes the random parts of the names the platform gives
// its objects ("cls-" and "prj-" IDs).
package randomid

import (
	"crypto/rand"
	"math/big"
)

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// New is prefix followed by n characters of [a-z0-9], each drawn uniformly
// (crypto/rand.Int, so without the bias of a byte taken modulo 36).
func New(prefix string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // the system's random source failed: nothing is safe to name
		}
		b[i] = alphabet[k.Int64()]
	}
	return prefix + string(b)
}
