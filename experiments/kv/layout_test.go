package kv

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// TestLayoutMatchesEngine: the layout read back from a state region's
// header is the engine's own StateLayout, for every KV dtype, and a guest's
// region has the same layout as a native engine's.
func TestLayoutMatchesEngine(t *testing.T) {
	d, _ := cpu.Open()
	for _, kv := range []device.KVDType{device.KVBF16, device.KVF16, device.KVF32} {
		m := newModel(t, d, models.Tiny(), testSeed, kv)
		mem, err := d.NewMemory(device.ZeroCopy, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		e, err := llm.NewNative(m.cfg, mem, m.w, llm.Options{KV: kv, MaxSeq: testMaxSeq, MaxBatch: testBatch})
		if err != nil {
			t.Fatal(err)
		}
		b := e.State()
		h, err := parseHeader(mem.Bytes()[b.Off : b.Off+b.Len])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(h.layout, e.StateLayout()) || h.pos != 0 || h.next != -1 {
			t.Fatalf("%s: parsed %+v pos %d next %d\nengine %+v", kv, h.layout, h.pos, h.next, e.StateLayout())
		}
		mem.Close()

		g := m.open(t, "wasm", device.ZeroCopy)
		region, err := g.S.State(m.ctx)
		if err != nil {
			t.Fatal(err)
		}
		gh, err := parseHeader(region)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gh.layout, h.layout) {
			t.Fatalf("%s: guest layout %+v, native %+v", kv, gh.layout, h.layout)
		}
	}
}

// TestParseHeaderRefusesDamage: a damaged header is an error, never a panic
// or a view outside the region.
func TestParseHeaderRefusesDamage(t *testing.T) {
	m := newModel(t, nil, models.Tiny(), testSeed, device.KVBF16)
	c := m.open(t, "native", device.ZeroCopy)
	region, err := c.S.State(m.ctx)
	if err != nil {
		t.Fatal(err)
	}
	good := append([]byte(nil), region[:llm.StateHeaderSize]...)
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
		if _, err := parseHeader(region); err == nil {
			t.Errorf("%s damaged: accepted", tc.name)
		}
	}
	copy(region, good)
	if _, err := parseHeader(region[:40]); err == nil {
		t.Error("short region accepted")
	}
	if _, err := parseHeader(region[:len(region)-1]); err == nil {
		t.Error("region shorter than its KV cache accepted")
	}
}

// FuzzParseHeader: a state header is guest memory, so any bytes may come;
// parseHeader never panics, never allocates for counts the region could
// not hold, and what it accepts lies inside the region.
func FuzzParseHeader(f *testing.F) {
	m := newModel(f, nil, models.Tiny(), testSeed, device.KVBF16)
	c := m.open(f, "native", device.ZeroCopy)
	region, err := c.S.State(m.ctx)
	if err != nil {
		f.Fatal(err)
	}
	good := append([]byte(nil), region[:llm.StateHeaderSize]...)
	size := len(region)
	f.Add(good, uint32(0), uint32(0))
	f.Add(good, uint32(offLayers), uint32(1<<31))
	f.Add(good, uint32(offMaxSeq), uint32(0xffffffff))
	f.Fuzz(func(t *testing.T, hdr []byte, at, v uint32) {
		r := make([]byte, size)
		copy(r, good)
		copy(r, hdr)
		if int(at)+4 <= llm.StateHeaderSize {
			binary.LittleEndian.PutUint32(r[at:], v)
		}
		h, err := parseHeader(r)
		if err != nil {
			return
		}
		l := h.layout
		if uint64(l.Tokens)+4*uint64(l.MaxSeq) > uint64(size) || h.pos > l.MaxSeq {
			t.Fatalf("accepted token ids [%d, +%d) or position %d outside a %d-byte region", l.Tokens, 4*l.MaxSeq, h.pos, size)
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
