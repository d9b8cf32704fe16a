package snapshot

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// readv fills bs, back to back in r from offset off, with preadv(2) calls
// when r is a file: one system call for what would be one per buffer (the
// 32 K and V tensors of a 24-token Llama 3.2 1B snapshot). It returns false
// when r is not a file, for the caller to read another way.
func readv(r io.ReaderAt, bs [][]byte, off int64) (bool, error) {
	f, ok := r.(*os.File)
	if !ok {
		return false, nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false, nil
	}
	iov := append([][]byte(nil), bs...) // advanced as bytes arrive
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for len(iov) > 0 {
			n, err := unix.Preadv(int(fd), iov, off)
			switch {
			case errors.Is(err, syscall.EINTR):
				continue
			case err != nil:
				rerr = err
				return true
			case n == 0:
				rerr = io.ErrUnexpectedEOF
				return true
			}
			off += int64(n)
			for n > 0 {
				k := min(n, len(iov[0]))
				if iov[0] = iov[0][k:]; len(iov[0]) == 0 {
					iov = iov[1:]
				}
				n -= k
			}
		}
		return true
	})
	if err != nil {
		return true, err
	}
	return true, rerr
}
