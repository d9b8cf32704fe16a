// Package atomicfile creates or replaces a file so that a reader, a crash or
// an error at any point sees either the old file or the complete new one,
// never a part: it writes a temporary file in the destination's directory,
// fsyncs it, renames it over the destination and fsyncs the directory.
//
// It is the one atomic-write helper of the repository (results, figures,
// snapshots, safetensors and model files, the PTX cache). It is written out
// here rather than taken from github.com/google/renameio because renameio
// does not fsync the directory after the rename (so the rename itself may
// not survive a crash), builds only for non-Windows systems and may place
// its temporary file in os.TempDir, on another file system; what is needed
// is forty lines.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write creates or replaces path with what write writes to its argument,
// atomically (see the package doc), with permissions perm (umask not
// applied: results are meant to be shared, 0o644). The directory must
// exist (MkdirAll is the caller's choice: a snapshot into a missing
// directory is an error). When write or any step fails, path is left as it
// was, the temporary file is removed, and the error names path.
func Write(path string, perm fs.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	renamed := false
	defer func() {
		if err != nil && !renamed {
			tmp.Close() // may be closed already; the first error is what counts
			err = errors.Join(err, os.Remove(tmp.Name()))
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	renamed = true
	if err := SyncDir(dir); err != nil {
		// The new file is in place; only the durability of the rename is
		// in doubt.
		return fmt.Errorf("write %s: fsync directory: %w", path, err)
	}
	return nil
}

// WriteFile is Write of data.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteTo is Write of what src writes (a figure, an encoder).
func WriteTo(path string, perm fs.FileMode, src io.WriterTo) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := src.WriteTo(w)
		return err
	})
}

// SyncDir fsyncs a directory so that a rename into it is durable.
// Platforms that cannot sync a directory (Windows reports EINVAL or a
// permission error) are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, os.ErrInvalid) || errors.Is(err, os.ErrPermission) {
		err = nil
	}
	return errors.Join(err, d.Close())
}
