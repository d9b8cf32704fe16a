package regular

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mkfifo makes a FIFO in a temporary folder, or skips the test.
func mkfifo(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" || runtime.GOOS == "wasip1" {
		t.Skip("no FIFOs here")
	}
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip(err)
	}
	return p
}

// within runs f and fails the test if it does not return before the
// watchdog: a hang detector, not a timing threshold.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		f()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still blocks after 30s", what)
	}
}

func TestRefusesWhatIsNotARegularFile(t *testing.T) {
	fifo := mkfifo(t)
	dir := t.TempDir()
	for _, p := range []string{fifo, dir, os.DevNull} {
		within(t, "Open "+p, func() {
			if _, _, err := Open(p); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), p) {
				t.Errorf("Open(%s): %v, want ErrNotRegular naming it", p, err)
			}
		})
		within(t, "ReadFile "+p, func() {
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
