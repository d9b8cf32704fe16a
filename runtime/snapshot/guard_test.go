package snapshot

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/regular/regulartest"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// TestRestoreRefusesFIFO: a FIFO given as the snapshot is refused at once,
// naming it (before, Restore blocked for ever in open).
func TestRestoreRefusesFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snap.safetensors")
	regulartest.FIFO(t, path)
	dst := emptyState(testMeta(device.KVBF16, 1, 8, 8))
	var err error
	regulartest.Within(t, "Restore of a FIFO", func() { _, err = Restore(path, dst) })
	if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), path) {
		t.Fatalf("a FIFO: %v", err)
	}
	if !untouched(dst) {
		t.Fatal("destination touched")
	}
}

// TestRestoreChecksTokensFirst: a snapshot whose checksums are right but
// whose next token or a token id the destination's model cannot hold (a
// tampered or foreign file) is refused before a byte of the destination is
// written, from a file or a stream; negative ids always are.
func TestRestoreChecksTokensFirst(t *testing.T) {
	m := testMeta(device.KVBF16, 2, 16, 8)
	good := func() *State {
		st := newState(m, 5, 3)
		for i := range st.Tokens {
			st.Tokens[i] = int32(i * 90) // 0..360, inside a vocabulary of 512
		}
		st.Next = 7
		return st
	}
	for _, c := range []struct {
		name  string
		vocab int
		edit  func(st *State)
		want  string
	}{
		{"next token", 512, func(st *State) { st.Next = 512 }, "next_token: 512 is outside the destination's vocabulary of 512"},
		{"token id", 512, func(st *State) { st.Tokens[3] = 600 }, "tokens: id 600 at position 3 is outside the destination's vocabulary of 512"},
		{"negative id", 0, func(st *State) { st.Tokens[1] = -5 }, "tokens: id -5 at position 1 is negative"},
	} {
		st := good()
		c.edit(st)
		img := encodeBytes(t, st)
		for _, form := range []string{"file", "stream"} {
			dm := m
			dm.Vocab = c.vocab
			dst := emptyState(dm)
			if form == "stream" {
				mustRefuse(t, img, dst, c.want)
				continue
			}
			path := filepath.Join(t.TempDir(), "s")
			writeFile(t, path, img)
			if _, err := Restore(path, dst); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, file: %v, want %q", c.name, err, c.want)
			}
			if !untouched(dst) {
				t.Errorf("%s, file: destination touched", c.name)
			}
		}
	}
	// Within the vocabulary, the same snapshot restores.
	st := good()
	dm := m
	dm.Vocab = 512
	dst := emptyState(dm)
	if _, err := ReadFrom(bytes.NewReader(encodeBytes(t, st)), dst); err != nil {
		t.Fatal(err)
	}
	sameState(t, dst, st)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
