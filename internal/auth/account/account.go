// Package account holds the rules for accounts, group names and passwords
// (seed 004 §4.2.6), and password hashing.
package account

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidateUsername checks an account name: 3-32 lowercase letters, digits
// and '-', starting and ending with a letter or digit.
func ValidateUsername(s string) error {
	if len(s) < 3 || len(s) > 32 {
		return fmt.Errorf("account %q must be 3 to 32 characters long", s)
	}
	if !nameRE.MatchString(s) {
		return fmt.Errorf("account %q may hold only lowercase letters, digits and '-', and must start and end with a letter or digit", s)
	}
	return nil
}

// ValidateTenant checks a tenant ID, which follows the account rules.
func ValidateTenant(s string) error {
	if len(s) < 1 || len(s) > 32 || !nameRE.MatchString(s) {
		return fmt.Errorf("tenant %q must be 1 to 32 lowercase letters, digits and '-', starting and ending with a letter or digit", s)
	}
	if strings.HasPrefix(s, "kstack") {
		return fmt.Errorf("tenant %q is reserved: tenant IDs starting with \"kstack\" belong to the platform", s)
	}
	return nil
}

// ValidateGroupName checks a group name: under 60 lowercase letters, digits
// and '-', starting and ending with a letter or digit.
func ValidateGroupName(s string) error {
	if len(s) < 1 || len(s) > 59 || !nameRE.MatchString(s) {
		return fmt.Errorf("group name %q must be 1 to 59 lowercase letters, digits and '-', starting and ending with a letter or digit", s)
	}
	return nil
}

// ValidatePassword checks a password: 10-16 printable characters with at
// least one upper-case letter, one lower-case letter and one digit.
func ValidatePassword(p string) error {
	n := len([]rune(p))
	if n < 10 || n > 16 {
		return fmt.Errorf("the password must be 10 to 16 characters long (it has %d)", n)
	}
	var upper, lower, digit bool
	for _, r := range p {
		switch {
		case r > unicode.MaxASCII || !unicode.IsPrint(r):
			return errors.New("the password may hold only printable ASCII characters")
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		}
	}
	if !upper || !lower || !digit {
		return errors.New("the password needs at least one upper-case letter, one lower-case letter and one digit")
	}
	return nil
}

// Cost is bcrypt's work factor: about 50 ms a hash here, which bounds
// guessing without making logins slow.
var Cost = bcrypt.DefaultCost

// Hash hashes a password that passed ValidatePassword.
func Hash(p string) ([]byte, error) {
	return bcrypt.GenerateFromPassword([]byte(p), Cost)
}

// Check reports whether p matches hash.
func Check(hash []byte, p string) bool {
	return bcrypt.CompareHashAndPassword(hash, []byte(p)) == nil
}

// dummyHash is compared against when the user does not exist, so that
// unknown users take as long as wrong passwords.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("kstack-dummy-Passw0rd"), bcrypt.DefaultCost)

// CheckMissing spends the time a real check would.
func CheckMissing(p string) { _ = bcrypt.CompareHashAndPassword(dummyHash, []byte(p)) }
