package tokenizer

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadDirRefusesFIFO: a FIFO in place of tokenizer.json is refused at
// once, naming it, instead of blocking for ever.
func TestLoadDirRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "tokenizer.json"), 0o600); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := LoadDir(dir)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), "tokenizer.json") {
			t.Fatalf("tokenizer.json as a FIFO: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("LoadDir still blocks after 30s")
	}
}
