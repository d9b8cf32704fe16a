//go:build !unix

package regular

import "os"

// openNonBlocking opens path read-only. Systems outside unix (windows,
// wasip1) have no FIFO that blocks an open in the same way.
func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }

func setBlocking(*os.File) error { return nil }
