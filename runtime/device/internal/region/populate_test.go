//go:build linux

package region

import (
	"bytes"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the mapped pages of a page-aligned range (mincore).
func resident(t *testing.T, b []byte) int {
	t.Helper()
	vec := make([]byte, (len(b)+int(PageSize)-1)/int(PageSize))
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Skipf("mincore: %v", e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// TestPopulate: both ways of populating map exactly the pages a range
// touches, widened to whole pages, and change no byte.
func TestPopulate(t *testing.T) {
	page := int(PageSize)
	for name, fill := range map[string]func([]byte){"Populate": Populate, "touch": func(b []byte) {
		if len(b) > 0 {
			touch(wholePages(b))
		}
	}} {
		t.Run(name, func(t *testing.T) {
			b, err := Reserve(uint64(16 * page))
			if err != nil {
				t.Fatal(err)
			}
			defer Release(b)
			copy(b[3*page+5:], "kept")
			want := make([]byte, len(b)) // not read from b: a read maps pages
			copy(want[3*page+5:], "kept")
			if n := resident(t, b); n != 1 {
				t.Fatalf("%d pages resident before, want 1", n)
			}
			fill(b[2*page+100 : 6*page+1]) // pages 2..6
			if n := resident(t, b); n != 5 {
				t.Errorf("%d pages resident after, want 5 (pages 2 to 6)", n)
			}
			if n := resident(t, b[2*page:7*page]); n != 5 {
				t.Errorf("%d of pages 2 to 6 resident, want 5", n)
			}
			if !bytes.Equal(b, want) {
				t.Error("populating changed the bytes")
			}
			fill(b[:0]) // nothing
		})
	}
}
