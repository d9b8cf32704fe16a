package tenants

import (
	"encoding/binary"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/snapshot"
)

// The header's fields (runtime/llm/state.go writes them: little-endian
// uint32s), for the headers these tests write by hand.
const (
	hdrKV, hdrLayers, hdrWidth, hdrMaxSeq = 12, 16, 20, 24
	hdrPos, hdrNext, hdrTokens, hdrKVOff  = 28, 32, 36, 40
	hdrLayerBytes                         = 44
)

// tinyMeta is the geometry of Tiny's state region with 64 rows of bf16.
var tinyMeta = snapshot.Meta{KVDType: device.KVBF16, Layers: 2, Width: 32, MaxSeq: 64}

// tinyHeader is the header the engine writes for tinyMeta (runtime/llm's
// layout: token ids after the header, caches from the next 64 KiB page),
// at position pos with next token next, and the region's size.
func tinyHeader(pos, next uint32) ([]byte, int) {
	h := make([]byte, 64)
	put := func(at int, v uint32) { binary.LittleEndian.PutUint32(h[at:], v) }
	copy(h, "WGKV")
	put(4, 1)
	put(8, 64)
	put(hdrKV, 1)
	put(hdrLayers, 2)
	put(hdrWidth, 32)
	put(hdrMaxSeq, 64)
	put(hdrPos, pos)
	put(hdrNext, next)
	put(hdrTokens, 64)
	put(hdrKVOff, 65536)
	put(hdrLayerBytes, 64*32*2)
	return h, 65536 + 4*64*32*2
}

// FuzzStateView: a state region's header is written in guest memory, so
// any 64 bytes there, in a region of any size, give a view inside the
// region or an error, never a panic or a view of other memory.
func FuzzStateView(f *testing.F) {
	good, size := tinyHeader(5, 7)
	f.Add(good, uint32(size))
	f.Add(good, uint32(size-1))
	bad := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(bad[hdrLayers:], 0x80000000)
	f.Add(bad, uint32(size))
	bad = append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(bad[hdrKVOff:], 0xffffffff)
	f.Add(bad, uint32(size))
	f.Fuzz(func(t *testing.T, header []byte, n uint32) {
		region := make([]byte, min(int(n), 1<<20))
		copy(region, header)
		st, err := stateView(region, tinyMeta)
		if err != nil {
			return
		}
		if len(st.K) != tinyMeta.Layers || st.Pos > tinyMeta.MaxSeq || len(st.Tokens) != st.Pos {
			t.Fatalf("accepted a view of %d layers at position %d", len(st.K), st.Pos)
		}
	})
}

// TestStateView: the engine's header gives views at its offsets; a header
// of another geometry, or one placing the cache past the region, is
// refused.
func TestStateView(t *testing.T) {
	h, size := tinyHeader(5, 7)
	region := make([]byte, size)
	copy(region, h)
	st, err := stateView(region, tinyMeta)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pos != 5 || st.Next != 7 || &st.K[1][0] != &region[65536+2*4096] || &st.V[0][0] != &region[65536+4096] {
		t.Fatalf("view: pos %d next %d, caches not at the header's offsets", st.Pos, st.Next)
	}
	other := tinyMeta
	other.Layers = 3
	if _, err := stateView(region, other); err == nil {
		t.Error("a header of 2 layers gave a view of 3")
	}
	if _, err := stateView(region[:size-1], tinyMeta); err == nil {
		t.Error("a cache past the region was accepted")
	}
}
