package snapshot

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"testing"
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
	got, err := readAtCRC(bytes.NewReader(src), 3, dst)
	if err != nil || got != want {
		t.Fatalf("readAtCRC %08x %v, want %08x", got, err, want)
	}
	for i := range pieces {
		if !bytes.Equal(dst[i], pieces[i]) {
			t.Fatalf("piece %d read wrong", i)
		}
	}
	if _, err := readAtCRC(bytes.NewReader(src[:len(src)-1]), 3, dst); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short source: %v", err)
	}
}
