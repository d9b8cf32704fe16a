package snapshot

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

func TestCRC32Combine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	buf := make([]byte, 5000)
	fill(r, buf)
	for _, cut := range []int{0, 1, 7, 8, 1000, 4999, 5000} {
		a, b := buf[:cut], buf[cut:]
		got := crc32Combine(crc32.Checksum(a, castagnoli), crc32.Checksum(b, castagnoli), int64(len(b)))
		if want := crc32.Checksum(buf, castagnoli); got != want {
			t.Errorf("cut %d: %08x, want %08x", cut, got, want)
		}
	}
}

// TestChecksumParallel checks the parallel CRC and parallel read against
// one sequential CRC, over pieces that split into many units.
func TestChecksumParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	var pieces [][]byte
	var all []byte
	for _, n := range []int{0, 3, unitSize + 5, 100, 2*unitSize - 1, 0, 1} {
		p := make([]byte, n)
		fill(r, p)
		pieces = append(pieces, p)
		all = append(all, p...)
	}
	want := crc32.Checksum(all, castagnoli)
	if got := checksum(pieces); got != want {
		t.Fatalf("checksum %08x, want %08x", got, want)
	}
	dst := make([][]byte, len(pieces))
	for i, p := range pieces {
		dst[i] = make([]byte, len(p))
	}
	src := append([]byte("hdr"), all...)
	// Every byte lands exactly once, and is in place when it does.
	var landed int
	var wrong bool
	got, err := readAtCRC(bytes.NewReader(src), 3, dst, func(b []byte) {
		landed += len(b)
		for i := range dst {
			d := dst[i]
			if len(d) == 0 {
				continue
			}
			off := int(uintptr(unsafe.Pointer(&b[0])) - uintptr(unsafe.Pointer(&d[0])))
			if off >= 0 && off < len(d) {
				wrong = wrong || !bytes.Equal(b, pieces[i][off:off+len(b)])
			}
		}
	})
	if err != nil || got != want {
		t.Fatalf("readAtCRC %08x %v, want %08x", got, err, want)
	}
	if landed != len(all) || wrong {
		t.Fatalf("landed %d bytes of %d (out of place: %v)", landed, len(all), wrong)
	}
	for i := range pieces {
		if !bytes.Equal(dst[i], pieces[i]) {
			t.Fatalf("piece %d read wrong", i)
		}
	}
	if _, err := readAtCRC(bytes.NewReader(src[:len(src)-1]), 3, dst, nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short source: %v", err)
	}
}

// TestReadAtCRCVectored: small pieces gathered into units read the same
// bytes and checksum from a file (vectored reads on Linux) as from memory,
// more pieces than one vectored read takes included, and a file that ends
// early is an unexpected EOF.
func TestReadAtCRCVectored(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var sizes []int
	for range 200 {
		sizes = append(sizes, 1+r.IntN(3000))
	}
	sizes = append(sizes, readChunk+1, 7)
	var all []byte
	var dst [][]byte
	for _, n := range sizes {
		p := make([]byte, n)
		fill(r, p)
		all = append(all, p...)
		dst = append(dst, make([]byte, n))
	}
	if us := split(dst); len(us) >= len(sizes)/4 {
		t.Fatalf("%d pieces in %d units: small pieces were not gathered", len(sizes), len(us))
	}
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, append([]byte("hdr"), all...), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := crc32.Checksum(all, castagnoli)
	for name, src := range map[string]io.ReaderAt{"file": f, "memory": bytes.NewReader(append([]byte("hdr"), all...))} {
		for i := range dst {
			clear(dst[i])
		}
		got, err := readAtCRC(src, 3, dst, nil)
		if err != nil || got != want {
			t.Fatalf("%s: crc %08x %v, want %08x", name, got, err, want)
		}
		if !bytes.Equal(bytes.Join(dst, nil), all) {
			t.Fatalf("%s: read other bytes", name)
		}
	}
	if err := os.Truncate(path, int64(3+len(all)/2)); err != nil {
		t.Fatal(err)
	}
	if _, err := readAtCRC(f, 3, dst, nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated file: %v, want an unexpected EOF", err)
	}
}
