// Package golden compares test output with a file kept beside the test,
// rewriting the file when the test runs with -update.
package golden

import (
	"os"
	"testing"
)

// Compare fails t when got differs from the golden file at path; with
// update set it first writes got there.
func Compare(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s changed; review and rerun with -update if intended.\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
