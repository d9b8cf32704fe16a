package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

// Tensor names.
const tokensName = "tokens"

func kName(layer int) string { return layerName(layer, 0) }
func vName(layer int) string { return layerName(layer, 1) }

// layerNames are the K and V tensor names of the first layers, made once:
// a restore names every tensor to check the header, and would otherwise
// allocate two strings per layer.
var layerNames = sync.OnceValue(func() *[256][2]string {
	var names [256][2]string
	for i := range names {
		names[i] = [2]string{"layers." + strconv.Itoa(i) + ".k", "layers." + strconv.Itoa(i) + ".v"}
	}
	return &names
})

// layerName is layer's K (kv 0) or V (kv 1) tensor name.
func layerName(layer, kv int) string {
	if layer < 256 {
		return layerNames()[layer][kv]
	}
	return "layers." + strconv.Itoa(layer) + [2]string{".k", ".v"}[kv]
}

// maxHeader bounds the JSON header a reader accepts: a snapshot's header is
// about 100 bytes per tensor plus 1 KiB of metadata, so 16 MiB covers any
// model while keeping a corrupt length from allocating gigabytes.
const maxHeader = 16 << 20

// tensors lists a snapshot's tensors in file order for pos tokens of st's
// geometry. Data is tok for the tokens and views of st.K and st.V for the
// layers; st must have passed checkShape(pos).
func (st *State) tensors(pos int, tok []byte) []safetensors.Tensor {
	m := st.Meta
	dt := safetensors.DType(stDType(m.KVDType))
	n := pos * m.RowBytes()
	ts := make([]safetensors.Tensor, 0, 1+2*m.Layers)
	shapes := []int{pos, pos, m.Width} // [pos] for the tokens, [pos, width] for every cache
	ts = append(ts, safetensors.Tensor{Name: tokensName, DType: safetensors.I32, Shape: shapes[:1:1], Data: tok})
	for i := range m.Layers {
		ts = append(ts,
			safetensors.Tensor{Name: kName(i), DType: dt, Shape: shapes[1:], Data: st.K[i][:n:n]},
			safetensors.Tensor{Name: vName(i), DType: dt, Shape: shapes[1:], Data: st.V[i][:n:n]})
	}
	return ts
}

// encodeTokens returns ids as little-endian int32s.
func encodeTokens(ids []int32) []byte {
	b := make([]byte, 4*len(ids))
	for i, id := range ids {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(id))
	}
	return b
}

// dataCRC is the CRC-32C of the tensors' data in order.
func dataCRC(ts []safetensors.Tensor) uint32 {
	pieces := make([][]byte, len(ts))
	for i, t := range ts {
		pieces[i] = t.Data
	}
	return checksum(pieces)
}

// checkLayout verifies that the header lists exactly the expected tensors,
// back to back in the expected order, with the expected dtypes and shapes,
// and returns the size of their data.
func checkLayout(h *safetensors.Header, want []safetensors.Tensor) (int64, error) {
	byName := make(map[string]safetensors.TensorInfo, len(h.Tensors))
	for _, t := range h.Tensors {
		byName[t.Name] = t
	}
	var off int64
	for _, w := range want {
		t, ok := byName[w.Name]
		if !ok {
			return 0, fmt.Errorf("tensor %q: missing", w.Name)
		}
		delete(byName, w.Name)
		if t.DType != w.DType {
			return 0, fmt.Errorf("tensor %q: dtype %s, want %s", w.Name, t.DType, w.DType)
		}
		if !slices.Equal(t.Shape, w.Shape) {
			return 0, fmt.Errorf("tensor %q: shape %v, want %v", w.Name, t.Shape, w.Shape)
		}
		size := int64(len(w.Data))
		if t.Begin != off || t.End != off+size {
			return 0, fmt.Errorf("tensor %q: data_offsets [%d, %d], want [%d, %d]", w.Name, t.Begin, t.End, off, off+size)
		}
		off += size
	}
	for name := range byName {
		return 0, fmt.Errorf("tensor %q: not part of a snapshot", name)
	}
	return off, nil
}

// checkCanonical verifies that raw, a JSON header that parsed and matched
// want, is byte for byte the header this package writes for want and md.
// JSON parsing is lenient (encoding/json matches keys case-insensitively,
// skips whitespace, and safetensors allows NUL padding); this makes every
// header byte count, so a damaged header is refused, not reinterpreted.
func checkCanonical(raw []byte, want []safetensors.Tensor, md map[string]string) error {
	c, err := safetensors.EncodeHeader(want, md)
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	// c is the length prefix and the header: a canonical header of another
	// length differs in its prefix.
	if len(c) != 8+len(raw) || binary.LittleEndian.Uint64(c) != uint64(len(raw)) || !bytes.Equal(c[8:], raw) {
		return errors.New("header: not in the canonical form this package writes (corrupt snapshot)")
	}
	return nil
}
