package region

import "golang.org/x/sys/unix"

// populate asks the kernel to map pages for writing (MADV_POPULATE_WRITE);
// it fails on kernels before 5.14.
func populate(pages []byte) error { return unix.Madvise(pages, unix.MADV_POPULATE_WRITE) }
