package regular

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/regular/regulartest"
)

func TestRefusesWhatIsNotARegularFile(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	regulartest.FIFO(t, fifo)
	dir := t.TempDir()
	for _, p := range []string{fifo, dir, os.DevNull} {
		regulartest.Within(t, "Open "+p, func() {
			if _, _, err := Open(p); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), p) {
				t.Errorf("Open(%s): %v, want ErrNotRegular naming it", p, err)
			}
		})
		regulartest.Within(t, "ReadFile "+p, func() {
			if _, err := ReadFile(p, 1<<20); !errors.Is(err, ErrNotRegular) {
				t.Errorf("ReadFile(%s): %v", p, err)
			}
		})
	}
	if _, _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadsRegularFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	if err := os.WriteFile(p, []byte(`{"a": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(p, link); err != nil {
		t.Skip(err)
	}
	for _, q := range []string{p, link} {
		b, err := ReadFile(q, 8)
		if err != nil || string(b) != `{"a": 1}` {
			t.Errorf("ReadFile(%s): %q, %v", q, b, err)
		}
	}
	if _, err := ReadFile(p, 7); err == nil || !strings.Contains(err.Error(), "8 bytes, more than the 7") {
		t.Errorf("ReadFile over its limit: %v", err)
	}
	f, fi, err := Open(p)
	if err != nil || fi.Size() != 8 {
		t.Fatalf("Open: %v, %v", fi, err)
	}
	defer f.Close()
	buf := make([]byte, 8)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != `{"a": 1}` {
		t.Fatalf("read after Open: %q, %v", buf, err)
	}
}
