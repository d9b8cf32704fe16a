package guest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestWasmIsFresh rebuilds the guest the way go:generate does and fails if
// the committed guest.wasm differs.
func TestWasmIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("rebuilding the guest takes seconds; run without -short")
	}
	out := filepath.Join(t.TempDir(), "guest.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", out, "./program")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build guest: %v\n%s", err, msg)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, Wasm) {
		t.Fatalf("runtime/guest/guest.wasm is stale (%d bytes committed, %d rebuilt): run `go generate ./runtime/guest` and commit it", len(Wasm), len(fresh))
	}
}
