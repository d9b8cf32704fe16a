package llm

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// tinyRegion is a fresh native Tiny engine's state region, its header as
// the engine wrote it, and the engine.
func tinyRegion(t testing.TB) ([]byte, *Engine) {
	t.Helper()
	e, _ := newTiny(t, device.ZeroCopy, Options{KV: device.KVBF16, MaxSeq: 64, MaxBatch: 8})
	return e.stateView, e
}

// TestParseStateHeader: the header an engine wrote reads back as its own
// layout, and SetStatePosition is what Resume then adopts.
func TestParseStateHeader(t *testing.T) {
	region, e := tinyRegion(t)
	h, err := ParseStateHeader(region)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h.Layout, e.StateLayout()) || h.Pos != 0 || h.Next != -1 {
		t.Fatalf("parsed %+v pos %d next %d, engine %+v", h.Layout, h.Pos, h.Next, e.StateLayout())
	}
	SetStatePosition(region, 5, 7)
	if h, err = ParseStateHeader(region); err != nil || h.Pos != 5 || h.Next != 7 {
		t.Fatalf("after SetStatePosition(5, 7): pos %d next %d, %v", h.Pos, h.Next, err)
	}
}

// TestParseStateHeaderRefusesDamage: a damaged header is an error, never a
// panic or a view outside the region.
func TestParseStateHeaderRefusesDamage(t *testing.T) {
	region, _ := tinyRegion(t)
	good := append([]byte(nil), region[:StateHeaderSize]...)
	for _, tc := range []struct {
		name string
		at   int
		v    byte
	}{
		{"magic", 0, 'X'}, {"version", offVersion, 9}, {"kv code", offKVCode, 7},
		{"layers", offLayers + 3, 0x40}, {"maxSeq", offMaxSeq + 2, 0x10},
		{"tokens offset", offTokens + 3, 0x7f}, {"kv offset", offKV + 3, 0x7f}, {"layer bytes", offLayerBytes, 3},
		{"pos", offPos + 2, 0x7f},
	} {
		copy(region, good)
		region[tc.at] = tc.v
		if _, err := ParseStateHeader(region); err == nil {
			t.Errorf("%s damaged: accepted", tc.name)
		}
	}
	copy(region, good)
	if _, err := ParseStateHeader(region[:40]); err == nil {
		t.Error("short region accepted")
	}
	if _, err := ParseStateHeader(region[:len(region)-1]); err == nil {
		t.Error("region shorter than its KV cache accepted")
	}
}

// FuzzParseStateHeader: a state header is guest memory, so any bytes may
// come; ParseStateHeader never panics, never allocates for counts the
// region could not hold, and what it accepts lies inside the region.
func FuzzParseStateHeader(f *testing.F) {
	region, _ := tinyRegion(f)
	good := append([]byte(nil), region[:StateHeaderSize]...)
	size := len(region)
	f.Add(good, uint32(0), uint32(0))
	f.Add(good, uint32(offLayers), uint32(1<<31))
	f.Add(good, uint32(offMaxSeq), uint32(0xffffffff))
	f.Fuzz(func(t *testing.T, hdr []byte, at, v uint32) {
		r := make([]byte, size)
		copy(r, good)
		copy(r, hdr)
		if int(at)+4 <= StateHeaderSize {
			binary.LittleEndian.PutUint32(r[at:], v)
		}
		h, err := ParseStateHeader(r)
		if err != nil {
			return
		}
		l := h.Layout
		if uint64(l.Tokens)+4*uint64(l.MaxSeq) > uint64(size) || h.Pos > l.MaxSeq {
			t.Fatalf("accepted token ids [%d, +%d) or position %d outside a %d-byte region", l.Tokens, 4*l.MaxSeq, h.Pos, size)
		}
		for i := range l.K {
			for _, off := range []uint32{l.K[i], l.V[i]} {
				if uint64(off)+uint64(l.LayerBytes) > uint64(size) {
					t.Fatalf("accepted layer %d at [%d, +%d) outside a %d-byte region", i, off, l.LayerBytes, size)
				}
			}
		}
	})
}
