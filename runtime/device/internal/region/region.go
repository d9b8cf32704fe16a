// Package region reserves address space for a guest's linear memory: one
// anonymous mapping of the maximum size, made once, so the base never moves
// when the guest grows. Pages cost nothing until touched (MAP_NORESERVE), so a
// 4 GiB reservation for a guest that uses 20 MiB costs 20 MiB of RSS.
package region

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// PageSize is the host page size; reservations are rounded up to it, and Metal
// requires both base and length of a no-copy buffer to be multiples of it.
var PageSize = uint64(os.Getpagesize())

// RoundUp rounds n up to a multiple of the page size.
func RoundUp(n uint64) uint64 { return (n + PageSize - 1) &^ (PageSize - 1) }

// Reserve maps max bytes rounded up to whole pages of zeroed, private,
// unreserved memory; the slice's length is the rounded size. Release it
// with Release, passing the slice Reserve returned.
func Reserve(max uint64) ([]byte, error) {
	if max == 0 {
		return nil, fmt.Errorf("reserve linear memory: size 0")
	}
	n := RoundUp(max)
	if n > uint64(int(^uint(0)>>1)) {
		return nil, fmt.Errorf("reserve linear memory: %d bytes exceeds the address space", max)
	}
	b, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("reserve linear memory of %d bytes: %w", n, err)
	}
	return b, nil
}

// Release unmaps a reservation made by Reserve.
func Release(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if err := unix.Munmap(b); err != nil {
		return fmt.Errorf("release linear memory: %w", err)
	}
	return nil
}
