//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package safetensors

import (
	"io"
	"os"
)

// mapFile reads the file into memory where mmap is unavailable (wasip1,
// windows): correct, but not zero-copy.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}
