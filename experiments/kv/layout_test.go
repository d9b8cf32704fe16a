package kv

import (
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
