package account

import (
	"strings"
	"testing"
)

func TestValidateUsername(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"abc", true}, {"alice-01", true}, {strings.Repeat("a", 32), true},
		{"ab", false}, {strings.Repeat("a", 33), false}, {"Alice", false}, {"-abc", false},
		{"abc-", false}, {"a_b", false}, {"a.bc", false}, {"a b c", false}, {"", false},
	} {
		if err := ValidateUsername(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateUsername(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	for _, tc := range []struct {
		in, wantErr string
	}{
		{"Passw0rd-ok", ""},
		{"Abcdefghi1", ""},
		{"Abcdefghijklmno1", ""},
		{"Ab1!@#$%^&*()", ""},
		{"Abc1", "10 to 16"},
		{"Abcdefghijklmnop1", "10 to 16"},
		{"abcdefghij1", "upper-case"},
		{"ABCDEFGHIJ1", "upper-case"},
		{"Abcdefghijk", "upper-case"},
		{"Abcdéfghij1", "printable ASCII"},
		{"Abcdefghi1\n", "printable ASCII"},
	} {
		err := ValidatePassword(tc.in)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("ValidatePassword(%q) = %v, want %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestHashCheck(t *testing.T) {
	h, err := Hash("Passw0rd-ok")
	if err != nil {
		t.Fatal(err)
	}
	if !Check(h, "Passw0rd-ok") || Check(h, "Passw0rd-no") {
		t.Fatal("Check does not tell the right password from a wrong one")
	}
	if strings.Contains(string(h), "Passw0rd") {
		t.Fatal("the hash holds the password")
	}
}
