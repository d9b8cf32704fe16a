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
	// parallelMin is the least data worth starting goroutines for.
	parallelMin = 2 << 20
)

// readChunk is how much a worker reads before it checksums: small enough
// that the bytes are still in the core's cache when the CRC reads them,
// large enough that the read calls cost nothing.
var readChunk = 1 << 20

// unit is a piece of the data: its bytes and its offset in the data section.
type unit struct {
	b   []byte
	off int64
}

// split cuts pieces (laid out back to back from offset 0) into units of at
// most unitSize bytes, in order.
func split(pieces [][]byte) []unit {
	var us []unit
	var off int64
	for _, p := range pieces {
		for len(p) > 0 {
			n := min(len(p), unitSize)
			us = append(us, unit{p[:n:n], off})
			p, off = p[n:], off+int64(n)
		}
	}
	return us
}

// crcUnits runs fn on every unit, on up to GOMAXPROCS goroutines, and
// returns the CRC-32C of all units' bytes in order, fn returning each
// unit's CRC. It stops at the first error.
func crcUnits(us []unit, fn func(unit) (uint32, error)) (uint32, error) {
	var total int64
	for _, u := range us {
		total += int64(len(u.b))
	}
	workers := min(runtime.GOMAXPROCS(0), len(us))
	if total < parallelMin {
		workers = 1
	}
	crcs := make([]uint32, len(us))
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
		c = crc32Combine(c, crcs[i], int64(len(u.b)))
	}
	return c, nil
}

// checksum returns the CRC-32C of pieces concatenated.
func checksum(pieces [][]byte) uint32 {
	c, _ := crcUnits(split(pieces), func(u unit) (uint32, error) {
		return crc32.Checksum(u.b, castagnoli), nil
	})
	return c
}

// readAtCRC reads every piece from r, which holds them back to back from
// offset base, straight into the piece, and returns the CRC-32C of all.
func readAtCRC(r io.ReaderAt, base int64, pieces [][]byte) (uint32, error) {
	return crcUnits(split(pieces), func(u unit) (uint32, error) {
		var c uint32
		for b, off := u.b, base+u.off; len(b) > 0; {
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
		return c, nil
	})
}

// crc32Combine returns the CRC-32C of a||b given crc1 of a, crc2 of b and
// b's length: zlib's crc32_combine, multiplying crc1 by x^(8·len2) in
// GF(2) with repeated squaring of the one-zero-bit operator.
func crc32Combine(crc1, crc2 uint32, len2 int64) uint32 {
	if len2 <= 0 {
		return crc1
	}
	var even, odd [32]uint32
	odd[0] = crc32.Castagnoli // reversed polynomial: the operator for one zero bit
	row := uint32(1)
	for n := 1; n < 32; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd) // first pass: one zero byte
		if len2&1 != 0 {
			crc1 = gf2Times(&even, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		gf2Square(&odd, &even)
		if len2&1 != 0 {
			crc1 = gf2Times(&odd, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for n := range 32 {
		square[n] = gf2Times(mat, mat[n])
	}
}
