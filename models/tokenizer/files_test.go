package tokenizer

import (
	"os"
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

// TestLoadDirNamesCorruptFiles: a corrupt tokenizer.json or
// tokenizer_config.json is refused with an error naming the folder and the
// file.
func TestLoadDirNamesCorruptFiles(t *testing.T) {
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
		dir := t.TempDir()
		tj, err := byteLevelJSON(300)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "tokenizer.json"), tj, 0o644)
		os.WriteFile(filepath.Join(dir, name), []byte(`{"model": [`), 0o644)
		if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), name) {
			t.Errorf("corrupt %s: %v", name, err)
		}
	}
}
