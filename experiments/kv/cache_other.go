//go:build !linux

package kv

import (
	"fmt"
	"runtime"
)

// DropCache is Linux only (posix_fadvise and mincore); elsewhere it reports
// that the page cache could not be dropped, and the driver notes it.
func DropCache(path string) (resident float64, err error) {
	return 1, fmt.Errorf("drop cache %s: not supported on %s", path, runtime.GOOS)
}

// fsType is not known off Linux.
func fsType(string) string { return "unknown" }
