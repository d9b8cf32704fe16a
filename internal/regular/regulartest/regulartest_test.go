package regulartest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFIFOReplacesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	FIFO(t, p)
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("%s is %v, want a named pipe", p, fi.Mode())
	}
}

func TestWithinRunsF(t *testing.T) {
	ran := false
	Within(t, "f", func() { ran = true })
	if !ran {
		t.Fatal("Within returned before f ran")
	}
}
