package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TimeFormat is the UTC timestamp layout used in result file names.
const TimeFormat = "20060102T150405Z"

// WriteAtomic writes f as indented JSON to path so that path holds either
// its old contents or the complete new file, never a partial one: it writes
// a temporary file in the same directory, syncs it, renames it over path
// and syncs the directory. Missing parent directories are created.
func (f *File) WriteAtomic(path string) (err error) {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("results: encode %s: %w", path, err)
	}
	data = append(data, '\n')

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results: write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("results: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("results: write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("results: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("results: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("results: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("results: write %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. Platforms that cannot sync a
// directory (Windows) are not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("results: sync directory %s: %w", dir, err)
	}
	return nil
}

// Load reads a result file. Unknown fields are rejected, so a typo in a
// hand-edited file is caught, as is a file written by a newer schema.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("results: %s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("results: %s: trailing data after the JSON document", path)
	}
	if f.Schema < 1 || f.Schema > SchemaVersion {
		return nil, fmt.Errorf("results: %s: schema %d not supported (want 1..%d)", path, f.Schema, SchemaVersion)
	}
	return &f, nil
}

// DefaultPath returns where a run's file goes:
// <root>/results/<machine>/<experiment>-<UTC time>.json, with machine and
// experiment made filesystem-safe by Slug. machine is typically
// "<backend>-<device name>", e.g. "cuda-NVIDIA H100 80GB HBM3".
func DefaultPath(root, machine, experiment string, t time.Time) string {
	name := Slug(experiment) + "-" + t.UTC().Format(TimeFormat) + ".json"
	return filepath.Join(root, "results", Slug(machine), name)
}

// Slug turns s into a lower-case file name component of letters, digits,
// '.', '_' and single '-' only; "cuda-NVIDIA H100 80GB HBM3" becomes
// "cuda-nvidia-h100-80gb-hbm3". An s with nothing usable gives "unknown".
func Slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	out := strings.Trim(b.String(), ".-")
	if out == "" {
		return "unknown"
	}
	return out
}
