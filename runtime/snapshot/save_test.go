package snapshot

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// failAfter is a writer that fails once n bytes have gone through.
type failAfter struct {
	w io.Writer
	n int
}

var errDiskFull = errors.New("no space left on device (test)")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k, _ := f.w.Write(p[:f.n])
		f.n = 0
		return k, errDiskFull
	}
	f.n -= len(p)
	return f.w.Write(p)
}

// TestSaveAtomic fails a Save midway, at several points: the previous
// snapshot must be intact and no temporary file left behind.
func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "conv.safetensors")
	m := testMeta(device.KVBF16, 2, 16, 32)
	old := newState(m, 10, 1)
	if _, err := Save(path, old); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	for _, at := range []int{0, 7, 100, len(before) / 2, len(before) - 1} {
		_, err := save(path, newState(m, 20, 2), func(w io.Writer) io.Writer { return &failAfter{w, at} })
		if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), path) {
			t.Fatalf("fail at %d: err = %v", at, err)
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(before, after) {
			t.Fatalf("fail at %d: the existing snapshot changed", at)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("fail at %d: left %d files", at, len(ents))
		}
	}
	dst := emptyState(m)
	if _, err := Restore(path, dst); err != nil {
		t.Fatal(err)
	}
	sameState(t, dst, old)
}

func TestSaveReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "conv.safetensors")
	m := testMeta(device.KVF32, 1, 8, 8)
	if _, err := Save(path, newState(m, 4, 1)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	if _, err := Save(path, newState(m, 8, 2)); err == nil {
		t.Fatal("save into a read-only directory: no error")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the existing snapshot changed")
	}
}

func TestSaveMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "x")
	if _, err := Save(path, newState(testMeta(device.KVF32, 1, 8, 8), 1, 1)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}

// TestSaveInvalidState checks that an inconsistent state is refused before
// anything is written, naming the field.
func TestSaveInvalidState(t *testing.T) {
	m := testMeta(device.KVBF16, 2, 8, 16)
	for _, tt := range []struct {
		want string
		edit func(*State)
	}{
		{"kv_dtype", func(s *State) { s.Meta.KVDType = "fp8" }},
		{"layers", func(s *State) { s.Meta.Layers = 3 }},
		{"layers", func(s *State) { s.V = s.V[:1] }},
		{"width", func(s *State) { s.Meta.Width = 0 }},
		{"pos", func(s *State) { s.Pos = 17 }},
		{"pos", func(s *State) { s.Pos = -1 }},
		{"tokens", func(s *State) { s.Tokens = s.Tokens[:4] }},
		{"next_token", func(s *State) { s.Next = -7 }},
		{"layout", func(s *State) { s.Meta.Layout = "[pos][layer]" }},
		{"layers.1.k", func(s *State) { s.K[1] = s.K[1][:10] }},
	} {
		st := newState(m, 5, 1)
		tt.edit(st)
		path := filepath.Join(t.TempDir(), "x")
		_, err := Save(path, st)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v", tt.want, err)
		}
		if _, serr := os.Stat(path); serr == nil {
			t.Errorf("%s: a refused state was written", tt.want)
		}
		if _, err := WriteTo(io.Discard, st); err == nil {
			t.Errorf("%s: WriteTo accepted it", tt.want)
		}
	}
}

// TestMetadataIsInspectable checks that the metadata a standard tool sees
// holds every Meta field as a string.
func TestMetadataIsInspectable(t *testing.T) {
	m := testMeta(device.KVBF16, 2, 8, 16)
	st := newState(m, 5, 1)
	img := encodeBytes(t, st)
	var md map[string]string
	rewrite(t, img, false, func(got map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
		md = got
		return ts
	})
	want := map[string]string{
		KeyFormat: FormatName, KeyFormatVersion: "1", KeyFingerprint: m.Fingerprint, KeyKVDType: "bf16",
		KeyLayers: "2", KeyWidth: "8", KeyMaxSeq: "16", KeyLayout: LayoutRowMajor, KeyTokenizer: m.Tokenizer,
		KeySourceDevice: "cpu", KeySourceMode: "zerocopy", KeyCreated: "2026-11-25T12:00:00.000000123Z",
		KeyPos: "5", KeyNext: strconv.Itoa(int(st.Next)),
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("%s = %q, want %q", k, md[k], v)
		}
	}
	if len(md[KeyDataCRC]) != 8 || len(md[KeyMetaCRC]) != 8 || len(md) != len(want)+2 {
		t.Errorf("metadata %v", md)
	}
}
