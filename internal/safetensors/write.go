package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/wasmgpu/wasmgpu/internal/atomicfile"
)

// headerAlign is the alignment of the data section, as Hugging Face's writer
// pads it: the JSON header is padded with spaces to a multiple of 8 bytes.
const headerAlign = 8

// encodeHeader lays the tensors out back to back in the order given and
// returns the length prefix plus padded JSON header, and the data size.
func encodeHeader(tensors []Tensor, metadata map[string]string) ([]byte, int64, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	writeKey := func(k string) {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k) // strings always marshal
		buf.Write(kb)
		buf.WriteByte(':')
	}
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		writeKey(metadataKey)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			vb, _ := json.Marshal(metadata[k])
			buf.Write(kb)
			buf.WriteByte(':')
			buf.Write(vb)
		}
		buf.WriteByte('}')
	}
	seen := make(map[string]bool, len(tensors))
	var off int64
	for _, t := range tensors {
		if t.Name == "" || t.Name == metadataKey {
			return nil, 0, fmt.Errorf("tensor name %q is reserved or empty", t.Name)
		}
		if seen[t.Name] {
			return nil, 0, fmt.Errorf("tensor %q: duplicate name", t.Name)
		}
		seen[t.Name] = true
		if err := t.check(); err != nil {
			return nil, 0, err
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		entry, err := json.Marshal(rawTensor{DType: string(t.DType), Shape: toInt64(shape), DataOffsets: []int64{off, off + int64(len(t.Data))}})
		if err != nil {
			return nil, 0, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		writeKey(t.Name)
		buf.Write(entry)
		off += int64(len(t.Data))
	}
	buf.WriteByte('}')
	for (buf.Len())%headerAlign != 0 {
		buf.WriteByte(' ')
	}
	out := make([]byte, 8, 8+buf.Len())
	binary.LittleEndian.PutUint64(out, uint64(buf.Len()))
	return append(out, buf.Bytes()...), off, nil
}

func toInt64(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}

// EncodedSize returns the number of bytes WriteTo would write for these
// tensors and metadata, for a sender that announces the size first.
func EncodedSize(tensors []Tensor, metadata map[string]string) (int64, error) {
	hdr, data, err := encodeHeader(tensors, metadata)
	if err != nil {
		return 0, fmt.Errorf("safetensors: %w", err)
	}
	return int64(len(hdr)) + data, nil
}

// WriteTo streams a safetensors image of the tensors (laid out in the order
// given) and metadata to w, writing each tensor's bytes straight from its
// Data. It returns the number of bytes written.
func WriteTo(w io.Writer, tensors []Tensor, metadata map[string]string) (int64, error) {
	hdr, _, err := encodeHeader(tensors, metadata)
	if err != nil {
		return 0, fmt.Errorf("safetensors: %w", err)
	}
	n, err := w.Write(hdr)
	total := int64(n)
	if err != nil {
		return total, fmt.Errorf("safetensors: write header: %w", err)
	}
	for _, t := range tensors {
		n, err := w.Write(t.Data)
		total += int64(n)
		if err != nil {
			return total, fmt.Errorf("safetensors: write tensor %q: %w", t.Name, err)
		}
	}
	return total, nil
}

// Write writes a safetensors file at path atomically (internal/atomicfile):
// a crash or an error leaves either the old file or the complete new one.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := WriteTo(w, tensors, metadata)
		return err
	})
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
