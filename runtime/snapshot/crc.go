package snapshot

import (
	"hash/crc32"
	"io"
	"runtime"
	"sync"
)

// The data checksum is one CRC-32C over all tensor data in file order, but
// it is computed in parallel: each piece's CRC separately, then combined.
// One core computes CRC-32C at about 17 GB/s on data in its cache but only
// 3–4 GB/s streaming from main memory, so a 128 MiB cache is checksummed
// (Save) or read and checksummed (Restore) by several cores at once.

const (
	// unitSize is the most bytes one worker takes at a time.
	unitSize = 4 << 20
	// parallelMin is the least data worth starting goroutines for, to
	// checksum it (Save) or to read and checksum it (Restore). A second
	// worker did not make a 771 KiB restore (24 tokens of Llama 3.2 1B)
	// faster on the 2-core VM, from the page cache or into a fresh guest.
	parallelMin = 2 << 20
)

// readChunk is how much is read before it is checksummed: small enough
// that the bytes are still in the core's cache when the CRC reads them,
// large enough that the read calls cost nothing. 256 KiB was a little
// faster than 1 MiB and clearly faster than 4 MiB (BenchmarkRestore).
var readChunk = 256 << 10

// unit is a run of the data one worker reads or checksums at a time: part
// of a piece, a whole piece, or several small pieces that follow each other
// (at most readChunk bytes), and its offset in the data section.
type unit struct {
	bs  [][]byte // back to back in the data
	off int64
	n   int64 // bytes in bs
}

// maxVec is the most pieces a unit gathers: far below the kernel's limit on
// a vectored read's buffers (IOV_MAX, 1024 on Linux).
const maxVec = 64

// split cuts pieces (laid out back to back from offset 0) into units, in
// order: a piece of more than unitSize bytes into several, and pieces of
// less than readChunk bytes gathered, up to maxVec of them, while they fit
// in one read chunk (the K and V rows of a short context: a vectored read
// takes them in one call instead of a call each).
func split(pieces [][]byte) []unit {
	var us []unit
	var off int64
	for _, p := range pieces {
		for len(p) > 0 {
			n := min(len(p), unitSize)
			b := p[:n:n]
			if k := len(us) - 1; n < readChunk && k >= 0 && us[k].n+int64(n) <= int64(readChunk) && len(us[k].bs) < maxVec {
				us[k].bs = append(us[k].bs, b)
				us[k].n += int64(n)
			} else {
				us = append(us, unit{bs: [][]byte{b}, off: off, n: int64(n)})
			}
			p, off = p[n:], off+int64(n)
		}
	}
	return us
}

// crc is the CRC-32C of u's bytes.
func (u unit) crc() uint32 {
	var c uint32
	for _, b := range u.bs {
		c = crc32.Update(c, castagnoli, b)
	}
	return c
}

// crcUnits runs fn on every unit, on up to GOMAXPROCS goroutines, and
// returns the CRC-32C of all units' bytes in order, fn returning each
// unit's CRC. It stops at the first error.
func crcUnits(us []unit, fn func(unit) (uint32, error)) (uint32, error) {
	var total int64
	for _, u := range us {
		total += u.n
	}
	workers := min(runtime.GOMAXPROCS(0), len(us))
	if total < parallelMin {
		workers = 1
	}
	crcs := make([]uint32, len(us))
	if workers <= 1 { // small: no goroutines
		var c uint32
		for i, u := range us {
			var err error
			if crcs[i], err = fn(u); err != nil {
				return 0, err
			}
			c = crc32Combine(c, crcs[i], u.n)
		}
		return c, nil
	}
	errs := make([]error, workers)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				if errs[w] != nil || i == len(us) {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				c, err := fn(us[i])
				if err != nil {
					mu.Lock()
					errs[w], next = err, len(us) // stop every worker
					mu.Unlock()
					return
				}
				crcs[i] = c
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	var c uint32
	for i, u := range us {
		c = crc32Combine(c, crcs[i], u.n)
	}
	return c, nil
}

// checksum returns the CRC-32C of pieces concatenated.
func checksum(pieces [][]byte) uint32 {
	c, _ := crcUnits(split(pieces), func(u unit) (uint32, error) { return u.crc(), nil })
	return c
}

// readAtCRC reads every piece from r, which holds them back to back from
// offset base, straight into the piece, and returns the CRC-32C of all. A
// unit of several small pieces is read with one vectored read where r
// allows it (readv). landed, if not nil, is called with each unit's part of
// a piece once it is read, one call at a time.
func readAtCRC(r io.ReaderAt, base int64, pieces [][]byte, landed func([]byte)) (uint32, error) {
	var mu sync.Mutex
	return crcUnits(split(pieces), func(u unit) (uint32, error) {
		vectored := false
		if len(u.bs) > 1 {
			var err error
			if vectored, err = readv(r, u.bs, base+u.off); err != nil {
				return 0, err
			}
		}
		var c uint32
		if vectored {
			c = u.crc()
		} else {
			for off, i := base+u.off, 0; i < len(u.bs); i++ {
				for b := u.bs[i]; len(b) > 0; {
					x := b[:min(len(b), readChunk)]
					if _, err := r.ReadAt(x, off); err != nil {
						if err == io.EOF {
							err = io.ErrUnexpectedEOF
						}
						return 0, err
					}
					c = crc32.Update(c, castagnoli, x)
					b, off = b[len(x):], off+int64(len(x))
				}
			}
		}
		if landed != nil {
			mu.Lock()
			for _, b := range u.bs {
				landed(b)
			}
			mu.Unlock()
		}
		return c, nil
	})
}

// crc32Combine returns the CRC-32C of a||b given crc1 of a, crc2 of b and
// b's length: zlib's crc32_combine, which multiplies crc1 by x^(8·len2)
// modulo the polynomial, using a table of x^(2^k).
func crc32Combine(crc1, crc2 uint32, len2 int64) uint32 {
	if len2 <= 0 {
		return crc1
	}
	p := uint32(1) << 31 // x^0, bit-reflected
	for k := 3; len2 != 0; len2, k = len2>>1, k+1 {
		if len2&1 != 0 {
			p = multModP(x2n[k&31], p)
		}
	}
	return multModP(p, crc1) ^ crc2
}

// x2n[k] is x^(2^k) modulo the Castagnoli polynomial, bit-reflected.
var x2n = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	t[0] = p
	for k := 1; k < 32; k++ {
		p = multModP(p, p)
		t[k] = p
	}
	return t
}()

// multModP multiplies a and b modulo the Castagnoli polynomial (both
// bit-reflected). a must not be zero.
func multModP(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ crc32.Castagnoli
		} else {
			b >>= 1
		}
	}
	return p
}
