package snapshot

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
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
