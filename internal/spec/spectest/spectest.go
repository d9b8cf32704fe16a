// Package spectest checks an experiment's spec parser against edits of a
// good spec: the table-driven test every experiment's spec_test.go runs,
// written once.
package spectest

import (
	"strings"
	"testing"
)

// Edit is one bad spec: Good with the first Old replaced by New, which the
// parser must refuse with an error containing every string of Want.
type Edit struct {
	Name     string
	Old, New string
	Want     []string
}

// E makes an Edit: the test named name replaces old with new and wants an
// error containing every string of want.
func E(name, old, new string, want ...string) Edit {
	return Edit{Name: name, Old: old, New: new, Want: want}
}

// Refused runs parse("bad.yaml", edited good spec) for each edit and fails
// the test unless it is refused with the wanted error. An edit whose Old is
// not in good is a bug of the test, reported as such.
func Refused(t *testing.T, good string, parse func(path string, data []byte) error, edits []Edit) {
	t.Helper()
	if err := parse("good.yaml", []byte(good)); err != nil {
		t.Fatalf("the good spec is refused: %v", err)
	}
	for _, e := range edits {
		t.Run(e.Name, func(t *testing.T) {
			if !strings.Contains(good, e.Old) {
				t.Fatalf("test bug: %q is not in the good spec", e.Old)
			}
			bad := strings.Replace(good, e.Old, e.New, 1)
			err := parse("bad.yaml", []byte(bad))
			if err == nil {
				t.Fatalf("accepted:\n%s", bad)
			}
			for _, w := range e.Want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
