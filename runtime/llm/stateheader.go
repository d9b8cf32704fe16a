package llm

import (
	"encoding/binary"
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// A host reads a state region's header (state.go) to snapshot, restore or
// batch a conversation that an engine in a guest owns. The header is then
// guest memory: untrusted bytes, which ParseStateHeader holds to the region
// before it believes a count.

// Offsets of the header's fields (state.go's writeHeader).
const (
	offVersion    = 4
	offHeaderSize = 8
	offKVCode     = 12
	offLayers     = 16
	offWidth      = 20
	offMaxSeq     = 24
	offPos        = 28
	offNext       = 32
	offTokens     = 36
	offKV         = 40
	offLayerBytes = 44
)

// StateHeader is what a state region's header says: where the region's
// parts are, the position and the predicted next token (-1 for none, as
// snapshot.NoToken).
type StateHeader struct {
	Layout StateLayout
	Pos    int
	Next   int32
}

// ParseStateHeader reads the header at the start of region and checks that
// every part it names lies inside region. It never panics and never
// allocates for more layers than region could hold, whatever the bytes.
func ParseStateHeader(region []byte) (StateHeader, error) {
	var h StateHeader
	if len(region) < StateHeaderSize {
		return h, fmt.Errorf("state region: %d bytes, shorter than its %d-byte header", len(region), StateHeaderSize)
	}
	get := func(at int) uint32 { return binary.LittleEndian.Uint32(region[at:]) }
	if string(region[:4]) != stateMagic {
		return h, fmt.Errorf("state header: magic %q, want %q", region[:4], stateMagic)
	}
	if v := get(offVersion); v != stateVersion {
		return h, fmt.Errorf("state header: version %d, want %d", v, stateVersion)
	}
	if v := get(offHeaderSize); v != StateHeaderSize {
		return h, fmt.Errorf("state header: header size %d, want %d", v, StateHeaderSize)
	}
	kv, ok := device.KVDTypeOf(get(offKVCode))
	if !ok {
		return h, fmt.Errorf("state header: unknown KV dtype code %d", get(offKVCode))
	}
	// Every count is held to what the region could hold before it is
	// multiplied or allocated for (a layer is at least a K and a V row of
	// 64 bytes each, a row of the cache at least one element, a position a
	// 4-byte token id), so that no product below wraps.
	n := uint64(len(region))
	layers, width, maxSeq := uint64(get(offLayers)), uint64(get(offWidth)), uint64(get(offMaxSeq))
	layerBytes := uint64(get(offLayerBytes))
	switch {
	case layers < 1 || width < 1 || maxSeq < 1:
		return h, fmt.Errorf("state header: layers %d, width %d, maxSeq %d: want all ≥ 1", layers, width, maxSeq)
	case layers > n/128 || width > n || maxSeq > n/4:
		return h, fmt.Errorf("state header: layers %d, width %d, maxSeq %d do not fit a %d-byte region", layers, width, maxSeq, n)
	}
	if want := maxSeq * width * uint64(kv.Size()); layerBytes != want { // < 2^32·2^32/4·4: no wrap
		return h, fmt.Errorf("state header: layer bytes %d, maxSeq·width·%d is %d", layerBytes, kv.Size(), want)
	}
	tokens, kvOff := uint64(get(offTokens)), uint64(get(offKV))
	stride := align64(layerBytes)
	size := kvOff + 2*layers*stride
	switch {
	case tokens < StateHeaderSize || tokens+4*maxSeq > kvOff:
		return h, fmt.Errorf("state header: token ids at %d overlap the header or the KV cache at %d", tokens, kvOff)
	case size > n:
		return h, fmt.Errorf("state header: the KV cache ends at %d, past the %d-byte region", size, n)
	case tokens%4 != 0:
		return h, fmt.Errorf("state header: token ids at %d are not 4-byte aligned", tokens)
	}
	pos, next := get(offPos), get(offNext)
	if uint64(pos) > maxSeq {
		return h, fmt.Errorf("state header: position %d is beyond maxSeq %d", pos, maxSeq)
	}
	h.Layout = StateLayout{Size: uint32(size), KV: kv, MaxSeq: int(maxSeq), Width: int(width), Tokens: uint32(tokens), LayerBytes: uint32(layerBytes)}
	for i := range layers {
		h.Layout.K = append(h.Layout.K, uint32(kvOff+2*i*stride))
		h.Layout.V = append(h.Layout.V, uint32(kvOff+(2*i+1)*stride))
	}
	h.Pos, h.Next = int(pos), int32(next) // noToken becomes -1
	return h, nil
}

// SetStatePosition writes a restored position and next token (-1 for
// none) into region's header, for the engine's Resume to adopt.
func SetStatePosition(region []byte, pos int, next int32) {
	binary.LittleEndian.PutUint32(region[offPos:], uint32(pos))
	binary.LittleEndian.PutUint32(region[offNext:], uint32(next))
}
