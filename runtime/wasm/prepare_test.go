package wasm_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// TestPrepare: Prepare readies the LLM hot-path exports, then calls work;
// it refuses a name the guest does not export, naming it, and a closed
// guest.
func TestPrepare(t *testing.T) {
	ctx := context.Background()
	g, _ := llmGuest(t, newRuntime(t), device.ZeroCopy, device.KVBF16)
	for range 2 { // again: nothing new to do
		if err := g.LLMPrepare(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.LLMDecode(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := g.Prepare("no_such_export"); err == nil || !strings.Contains(err.Error(), "no_such_export") {
		t.Fatalf("unknown export: %v", err)
	}
	g.Close(ctx)
	if err := g.Prepare("llm_decode"); !errors.Is(err, wasm.ErrClosed) {
		t.Fatalf("closed guest: %v, want ErrClosed", err)
	}
}

// TestLLMBuffers: the guest reports its engine's KV caches (the end of its
// state region) and device-only buffers, all inside its memory and none
// overlapping the state region's header and token ids.
func TestLLMBuffers(t *testing.T) {
	ctx := context.Background()
	g, _ := llmGuest(t, newRuntime(t), device.ZeroCopy, device.KVBF16)
	kv, dev, err := g.LLMBuffers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	off, n, _, err := g.LLMState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	state := device.Span{Off: uint64(off), Len: uint64(n)}
	if kv.End() != state.End() || kv.Off <= state.Off || kv.Len == 0 {
		t.Fatalf("KV %+v is not the tail of the state region %+v", kv, state)
	}
	if len(dev) != 10 {
		t.Fatalf("%d device buffers, want 10", len(dev))
	}
	for _, d := range dev {
		if d.Len == 0 || d.End() > g.Size() || d.Overlaps(state) {
			t.Errorf("device buffer %+v: empty, outside the memory of %d bytes, or inside the state region %+v", d, g.Size(), state)
		}
	}
	fresh := newGuest(t, newRuntime(t), device.ZeroCopy)
	if _, _, err := fresh.LLMBuffers(ctx); err == nil {
		t.Error("a guest without an engine reported buffers")
	}
}
