package kv

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DropCache evicts path's pages from the page cache, so the next read comes
// from the disk: fsync (dirty pages cannot be dropped), then
// posix_fadvise(POSIX_FADV_DONTNEED), which needs no privileges. It returns
// the fraction of the file's pages still resident afterwards (mincore), as
// the kernel may keep pages that another process has mapped, and a
// filesystem such as tmpfs has no disk to drop them to.
func DropCache(path string) (resident float64, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 1, fmt.Errorf("drop cache: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 1, fmt.Errorf("drop cache %s: fsync: %w", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return 1, fmt.Errorf("drop cache %s: fadvise: %w", path, err)
	}
	return residentFraction(f)
}

// residentFraction maps f and asks the kernel which of its pages are in
// memory. Mapping does not fault any page in.
func residentFraction(f *os.File) (float64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 1, fmt.Errorf("resident pages: %w", err)
	}
	if fi.Size() == 0 {
		return 0, nil
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 1, fmt.Errorf("resident pages: mmap: %w", err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	// x/sys/unix has no Mincore wrapper on Linux.
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		return 1, fmt.Errorf("resident pages: mincore: %w", e)
	}
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return float64(in) / float64(len(vec)), nil
}

// fsType names the filesystem holding dir, for provenance: a cold restore
// means something only where the file system has a disk behind it.
func fsType(dir string) string {
	var s unix.Statfs_t
	if err := unix.Statfs(dir, &s); err != nil {
		return "unknown"
	}
	switch uint32(s.Type) {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return fmt.Sprintf("0x%x", uint32(s.Type))
}
