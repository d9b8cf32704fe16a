package snapshot

import (
	"fmt"
	"io"

	"github.com/wasmgpu/wasmgpu/internal/atomicfile"
	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

// image is a snapshot ready to write: its tensors (views of the state) and
// metadata.
type image struct {
	tensors  []safetensors.Tensor
	metadata map[string]string
}

// encode checks st and computes its checksums. The state's bytes are read
// once here (for the CRC) and once more when written.
func encode(st *State) (image, error) {
	if err := st.checkSave(); err != nil {
		return image{}, err
	}
	ts := st.tensors(st.Pos, encodeTokens(st.Tokens))
	return image{ts, encodeMeta(st.Meta, st.Pos, st.Next, dataCRC(ts))}, nil
}

// size returns the number of bytes the image takes.
func (im image) size() (int64, error) {
	return safetensors.EncodedSize(im.tensors, im.metadata)
}

// WriteTo writes a snapshot of st to w (the same bytes Save puts in a file),
// each tensor with one Write straight from st's views. It returns the number
// of bytes written.
func WriteTo(w io.Writer, st *State) (int64, error) {
	im, err := encode(st)
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	n, err := safetensors.WriteTo(w, im.tensors, im.metadata)
	if err != nil {
		return n, fmt.Errorf("snapshot: %w", err)
	}
	return n, nil
}

// Save writes a snapshot of st to path atomically: it writes a temporary
// file in the same directory, fsyncs it, renames it over path and fsyncs the
// directory, so a crash or an error at any point leaves either the old file
// or the complete new one. It returns the snapshot's size in bytes.
func Save(path string, st *State) (int64, error) {
	return save(path, st, nil)
}

// save is Save with a hook that can wrap the file's writer (tests use it to
// fail midway).
func save(path string, st *State, wrap func(io.Writer) io.Writer) (n int64, err error) {
	im, err := encode(st)
	if err != nil {
		return 0, fmt.Errorf("snapshot save %s: %w", path, err)
	}
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
		if wrap != nil {
			w = wrap(w)
		}
		n, err = safetensors.WriteTo(w, im.tensors, im.metadata)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("snapshot save: %w", err)
	}
	return n, nil
}
