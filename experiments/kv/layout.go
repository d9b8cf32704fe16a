package kv

import (
	"encoding/binary"
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// The state region's header, as runtime/llm/state.go writes it (64 bytes of
// little-endian uint32 fields). runtime/llm does not export a function that
// computes a layout from a config, so this package reads the layout back from
// the header the engine wrote; TestLayoutMatchesEngine checks the two agree.
const (
	hdrMagic      = "WGKV"
	hdrVersion    = 1
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
	noToken       = 0xffffffff
)

// header is what a state region's header says.
type header struct {
	layout llm.StateLayout
	pos    int
	next   int32
}

// parseHeader reads the layout, position and next token from a state
// region's header and checks that every part it names lies inside region.
func parseHeader(region []byte) (header, error) {
	var h header
	if len(region) < llm.StateHeaderSize {
		return h, fmt.Errorf("state region: %d bytes, shorter than its %d-byte header", len(region), llm.StateHeaderSize)
	}
	get := func(at int) uint32 { return binary.LittleEndian.Uint32(region[at:]) }
	if string(region[:4]) != hdrMagic {
		return h, fmt.Errorf("state header: magic %q, want %q", region[:4], hdrMagic)
	}
	if v := get(offVersion); v != hdrVersion {
		return h, fmt.Errorf("state header: version %d, want %d", v, hdrVersion)
	}
	if v := get(offHeaderSize); v != llm.StateHeaderSize {
		return h, fmt.Errorf("state header: header size %d, want %d", v, llm.StateHeaderSize)
	}
	var kv device.KVDType
	switch c := get(offKVCode); c {
	case 0:
		kv = device.KVF32
	case 1:
		kv = device.KVBF16
	case 2:
		kv = device.KVF16
	default:
		return h, fmt.Errorf("state header: unknown KV dtype code %d", c)
	}
	// The header is guest memory, so untrusted: every count is held to what
	// the region could hold before it is multiplied or allocated for (a
	// layer is at least a K and a V row of 64 bytes each, a row of the
	// cache at least one element, a position a 4-byte token id), so that no
	// product below wraps and no hostile count makes the host allocate.
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
	size := kvOff + 2*uint64(layers)*stride
	switch {
	case tokens < llm.StateHeaderSize || tokens+4*uint64(maxSeq) > kvOff:
		return h, fmt.Errorf("state header: token ids at %d overlap the header or the KV cache at %d", tokens, kvOff)
	case size > uint64(len(region)):
		return h, fmt.Errorf("state header: the KV cache ends at %d, past the %d-byte region", size, len(region))
	case tokens%4 != 0:
		return h, fmt.Errorf("state header: token ids at %d are not 4-byte aligned", tokens)
	}
	pos, next := get(offPos), get(offNext)
	if pos > uint32(maxSeq) {
		return h, fmt.Errorf("state header: position %d is beyond maxSeq %d", pos, maxSeq)
	}
	h.layout = llm.StateLayout{Size: uint32(size), KV: kv, MaxSeq: int(maxSeq), Width: int(width), Tokens: uint32(tokens), LayerBytes: uint32(layerBytes)}
	for i := range layers {
		h.layout.K = append(h.layout.K, uint32(kvOff+2*i*stride))
		h.layout.V = append(h.layout.V, uint32(kvOff+(2*i+1)*stride))
	}
	h.pos, h.next = int(pos), int32(next) // noToken becomes -1, snapshot.NoToken
	return h, nil
}

// setPosition writes a restored position and next token into the header, for
// the engine's Resume to adopt.
func setPosition(region []byte, pos int, next int32) {
	binary.LittleEndian.PutUint32(region[offPos:], uint32(pos))
	binary.LittleEndian.PutUint32(region[offNext:], uint32(next)) // -1 is noToken
}

func align64(n uint64) uint64 { return (n + 63) &^ 63 }
