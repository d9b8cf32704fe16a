//go:build !linux

package snapshot

import "io"

// readv is Linux's vectored read; elsewhere the caller reads buffer by
// buffer.
func readv(io.ReaderAt, [][]byte, int64) (bool, error) { return false, nil }
