package llm

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// The state region holds everything one conversation owns, contiguously:
//
//	header  64 bytes (StateHeaderSize), little-endian uint32 fields:
//	          0 magic "WGKV"   4 version (1)   8 header size (64)
//	         12 KV dtype (its code: 0 f32, 1 bf16, 2 f16)   16 layers   20 KV width (kvHeads·headDim)
//	         24 maxSeq   28 pos (tokens processed)   32 next token (predicted, not yet
//	            processed; 0xffffffff if none)   36 tokens offset   40 KV offset
//	         44 bytes of one layer's K (or V) cache
//	         48 first 16 bytes of sha256(models.Config.Hash())
//	tokens  int32 [maxSeq]: the ids at positions 0..pos-1
//	KV      per layer l: K cache [maxSeq, width], then V cache [maxSeq, width],
//	        in the KV dtype; rows 0..pos-1 are live
//
// Offsets are relative to the region's start and 64-byte aligned; the KV
// caches start on a 64 KiB boundary (pageAlign), as the region does. A snapshot
// may save the whole region, or the header, tokens[:pos] and rows 0..pos-1
// of each cache (StateLayout says where they are).

// StateHeaderSize is the size of the state region's header.
const StateHeaderSize = 64

const (
	stateMagic   = "WGKV"
	stateVersion = 1
	noToken      = 0xffffffff
)

// StateLayout says where the parts of the state region are, as offsets
// relative to its start.
type StateLayout struct {
	Size       uint32         // the whole region
	KV         device.KVDType // cache element type
	MaxSeq     int            // rows of each cache
	Width      int            // elements per row: kvHeads·headDim
	Tokens     uint32         // int32 [MaxSeq]
	K, V       []uint32       // per layer: the K and V caches, LayerBytes each
	LayerBytes uint32         // MaxSeq·Width·KV.Size()
}

// RowBytes is the size of one token's row in one layer's K or V cache.
func (l StateLayout) RowBytes() uint32 { return uint32(l.Width * l.KV.Size()) }

// layoutState computes the state region's layout, refusing sizes that do
// not fit a 32-bit memory.
func layoutState(cfg models.Config, dt device.KVDType, maxSeq int) (StateLayout, error) {
	width := cfg.NumKeyValueHeads * cfg.HeadDim
	l := StateLayout{KV: dt, MaxSeq: maxSeq, Width: width}
	tokens := align64(StateHeaderSize)
	// The caches start a page away from the header and token ids, which
	// the host writes every token (see pageAlign).
	kv := alignPage(tokens + 4*uint64(maxSeq))
	layer := uint64(maxSeq) * uint64(width) * uint64(dt.Size())
	total := kv + 2*uint64(cfg.NumHiddenLayers)*align64(layer)
	if total > 1<<32-1 {
		return l, fmt.Errorf("state region of %d bytes (maxSeq %d) does not fit 4 GiB", total, maxSeq)
	}
	l.Size, l.Tokens, l.LayerBytes = uint32(total), uint32(tokens), uint32(layer)
	for i := range cfg.NumHiddenLayers {
		l.K = append(l.K, uint32(kv+uint64(2*i)*align64(layer)))
		l.V = append(l.V, uint32(kv+uint64(2*i+1)*align64(layer)))
	}
	return l, nil
}

func align64(n uint64) uint64 { return (n + 63) &^ 63 }

// kvCode is the header's code of a KV dtype (device.KVDType.Code; the
// engine's dtype is known).
func kvCode(dt device.KVDType) uint32 {
	c, _ := dt.Code()
	return c
}

// configTag is the first 16 bytes of the sha256 of cfg.Hash().
func configTag(cfg models.Config) [16]byte {
	s := sha256.Sum256([]byte(cfg.Hash()))
	var t [16]byte
	copy(t[:], s[:16])
	return t
}

// writeHeader stores the engine's geometry, position and next token.
func (e *Engine) writeHeader() {
	h, l := e.stateView[:StateHeaderSize], e.layout
	put := func(at int, v uint32) { binary.LittleEndian.PutUint32(h[at:], v) }
	copy(h[0:4], stateMagic)
	put(4, stateVersion)
	put(8, StateHeaderSize)
	put(12, kvCode(l.KV))
	put(16, uint32(len(l.K)))
	put(20, uint32(l.Width))
	put(24, uint32(l.MaxSeq))
	put(28, uint32(e.pos))
	put(32, uint32(e.next))
	put(36, l.Tokens)
	put(40, l.K[0])
	put(44, l.LayerBytes)
	tag := e.tag
	copy(h[48:64], tag[:])
}

// readHeader checks that the region's header was written by an engine of
// the same model and geometry, and returns its position and next token.
func (e *Engine) readHeader() (pos int, next int32, err error) {
	h, l := e.stateView[:StateHeaderSize], e.layout
	get := func(at int) uint32 { return binary.LittleEndian.Uint32(h[at:]) }
	if string(h[0:4]) != stateMagic {
		return 0, 0, fmt.Errorf("state header: magic %q, want %q", h[0:4], stateMagic)
	}
	if v := get(4); v != stateVersion {
		return 0, 0, fmt.Errorf("state header: version %d, want %d", v, stateVersion)
	}
	if string(h[48:64]) != string(e.tag[:]) { // e.tag: hashing the config again costs a guest ~0.3 ms
		return 0, 0, fmt.Errorf("state header: written for a different model config")
	}
	for _, f := range []struct {
		name      string
		at        int
		got, want uint32
	}{
		{"header size", 8, get(8), StateHeaderSize},
		{"KV dtype", 12, get(12), kvCode(l.KV)},
		{"layers", 16, get(16), uint32(len(l.K))},
		{"KV width", 20, get(20), uint32(l.Width)},
		{"maxSeq", 24, get(24), uint32(l.MaxSeq)},
		{"tokens offset", 36, get(36), l.Tokens},
		{"KV offset", 40, get(40), l.K[0]},
		{"layer bytes", 44, get(44), l.LayerBytes},
	} {
		if f.got != f.want {
			return 0, 0, fmt.Errorf("state header: %s is %d, this engine has %d", f.name, f.got, f.want)
		}
	}
	p := get(28)
	if p > uint32(l.MaxSeq) {
		return 0, 0, fmt.Errorf("state header: position %d is beyond maxSeq %d", p, l.MaxSeq)
	}
	nt := get(32)
	if nt != noToken && nt >= uint32(e.cfg.VocabSize) {
		return 0, 0, fmt.Errorf("state header: next token %d is outside the vocabulary of %d", nt, e.cfg.VocabSize)
	}
	return int(p), int32(nt), nil
}
