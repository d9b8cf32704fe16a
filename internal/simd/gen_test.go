package simd

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAsmIsFresh regenerates simd_amd64.s from gen_amd64.go and fails if the
// committed file differs: run `go generate ./internal/simd` and commit it.
func TestAsmIsFresh(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to run the generator")
	}
	out := filepath.Join(t.TempDir(), "simd_amd64.s")
	if b, err := exec.Command(gobin, "run", "gen_amd64.go", out).CombinedOutput(); err != nil {
		t.Fatalf("go run gen_amd64.go: %v\n%s", err, b)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("simd_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, committed) {
		t.Fatalf("simd_amd64.s is stale (%d bytes committed, %d generated): run `go generate ./internal/simd` and commit it", len(committed), len(fresh))
	}
}
