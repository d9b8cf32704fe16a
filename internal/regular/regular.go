// Package regular opens the files wasmgpu reads as data (weights, configs,
// tokenizers, snapshots) only if they are regular files, and reads whole
// files only up to a size the caller states. A FIFO, a device or a
// directory given where a file is expected is refused at once with an error
// naming it: opening a FIFO for reading blocks until a writer appears, and
// reading a character device may never end, so a plain os.Open or
// os.ReadFile of a hostile path could hang the host for ever.
package regular

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrNotRegular is wrapped by the error for a path that is not a regular
// file.
var ErrNotRegular = errors.New("not a regular file")

// Open opens path for reading if it is a regular file (after following
// symbolic links) and returns it with its FileInfo. It never blocks on the
// open itself: where the system allows, the file is opened non-blocking,
// checked with fstat, and only then set back to blocking reads.
func Open(path string) (*os.File, os.FileInfo, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("open %s: %w (%s)", path, ErrNotRegular, kind(fi.Mode()))
	}
	if err := setBlocking(f); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	return f, fi, nil
}

// ReadFile returns the contents of the regular file at path, refusing one
// larger than max bytes before reading it.
func ReadFile(path string, max int64) ([]byte, error) {
	f, fi, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > max {
		return nil, fmt.Errorf("read %s: %d bytes, more than the %d a file of this kind may have", path, fi.Size(), max)
	}
	// Read at most max+1 bytes: a file that grew since the stat is refused
	// too, not read without end.
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("read %s: more than the %d bytes a file of this kind may have (it grew while read)", path, max)
	}
	return b, nil
}

// kind names what a non-regular file is.
func kind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeDir != 0:
		return "a directory"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.String()
}
