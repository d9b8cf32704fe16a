package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/regular/regulartest"
)

// TestLoadDirRefusesFIFO: a FIFO in place of tokenizer.json is refused at
// once, naming it, instead of blocking for ever.
func TestLoadDirRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	regulartest.FIFO(t, filepath.Join(dir, "tokenizer.json"))
	var err error
	regulartest.Within(t, "LoadDir", func() { _, err = LoadDir(dir) })
	if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Fatalf("tokenizer.json as a FIFO: %v", err)
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
