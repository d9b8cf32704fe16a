package wasm_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/internal/rss"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// callRawCtx writes c's arguments where the guest's llm_raw reads them and
// calls it under ctx.
func callRawCtx(ctx context.Context, g *wasm.Guest, c rawLLM) error {
	p, err := g.Call(ctx, "llm_raw_args")
	if err != nil {
		return err
	}
	var b [18 * 4]byte
	for i, a := range c.args {
		binary.LittleEndian.PutUint32(b[4*i:], a)
	}
	dst, ok := g.Read(uint32(p[0]), uint32(len(b)))
	if !ok {
		return fmt.Errorf("llm_raw_args %#x is outside the guest's memory", p[0])
	}
	copy(dst, b[:])
	_, err = g.Call(ctx, "llm_raw", uint64(c.op))
	return err
}

// attentionCall is llm_raw's attention over a region at p of the guest's
// memory: n queries of heads×headDim f32 after pos cached rows, the caches
// holding exactly pos+n rows of kvHeads×headDim in dtype code kv.
func attentionCall(p uint32, kv, n, pos, heads, kvHeads, headDim uint32) rawLLM {
	es := uint32(device.KVF32.Size())
	if kv != 0 {
		es = 2
	}
	qLen, cLen := 4*n*heads*headDim, (pos+n)*kvHeads*headDim*es
	q, k := p, p+qLen
	v, out := k+cLen, k+2*cLen
	return rawLLM{name: "attention", op: 5, args: []uint32{q, qLen, k, cLen, v, cLen, out, qLen, kv, n, pos, heads, kvHeads, headDim}}
}

// TestLongKernelStopsAtDeadline: one attention call of n = 32768 (Tiny's
// shape: seconds of both cores' time) ends at its 100 ms deadline, as its
// parallel loop stops between chunks.
func TestLongKernelStopsAtDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 20 MiB in a guest")
	}
	r := newRuntime(t) // 64 MiB
	g := newGuest(t, r, device.ZeroCopy)
	const n = 32768
	c := attentionCall(0, 1, n, 0, 4, 2, 16)
	p := uint32(call(t, g, "alloc", uint64(c.args[6]+c.args[7]))[0])
	c = attentionCall(p, 1, n, 0, 4, 2, 16)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- callRawCtx(ctx, g, c) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(watchdog):
		t.Fatalf("attention n=%d still runs %v after a 100ms deadline", n, watchdog)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline", err)
	}
	t.Logf("attention n=%d stopped %v after its start (deadline 100ms)", n, time.Since(start))
}

// TestHostileGuestsReleaseMemory opens and closes 100 guests that each try
// to make the host hold memory for them (the amplification): grow
// their memory to nearly its limit and, in copy mode, have an op over all of
// it staged; every tenth also makes the cpu attention kernel size its scratch
// from a huge pos (heads, kvHeads and headDim all 1). Once they are closed,
// the process's RSS must be back within 64 MiB of where it started.
func TestHostileGuestsReleaseMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("100 guests of 128 MiB")
	}
	ctx := context.Background()
	const limit = 128 << 20
	r, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: limit, CacheDir: cacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	d, _ := cpu.Open()
	hostile := func(i int) error {
		mode := device.ZeroCopy
		if i%2 == 1 {
			mode = device.Copy
		}
		g, err := r.Instantiate(ctx, func(max uint64) (device.Memory, error) { return d.NewMemory(mode, max) })
		if err != nil {
			return err
		}
		defer g.Close(ctx)
		// Two 44 MiB operands: all of the guest's memory but its runtime.
		const half = 44 << 20
		res, err := g.Call(ctx, "alloc", 2*half+64)
		if err != nil {
			return err
		}
		p := uint32(res[0])
		refused := func(err error) error {
			var trap *wasm.TrapError
			if err != nil && !errors.As(err, &trap) { // a limit may refuse it: that is fine
				return err
			}
			return nil
		}
		// x += y over both: in copy mode, 88 MiB of staging.
		if err := refused(callRawCtx(ctx, g, rawLLM{op: 7, args: []uint32{p, half, p + half, half, half / 4}})); err != nil {
			return err
		}
		if i%10 == 0 {
			// Two queries (two chunks: the pool runs them on its workers)
			// over caches of 4-byte rows: 11.5 M keys, scores for each.
			c := attentionCall(p, 0, 2, half/4-2, 1, 1, 1)
			if err := refused(callRawCtx(ctx, g, c)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := hostile(1); err != nil { // warm up the runtime's own first-use allocations (no attention)
		t.Fatal(err)
	}
	settle := func() uint64 {
		runtime.GC()
		debug.FreeOSMemory()
		n, err := rss.Current()
		if err != nil {
			t.Skip(err)
		}
		return n
	}
	base := settle()
	for i := range 100 {
		if err := hostile(i); err != nil {
			t.Fatalf("guest %d: %v", i, err)
		}
	}
	after := settle()
	t.Logf("RSS %d MiB before 100 hostile guests, %d MiB after (%+d MiB)", base>>20, after>>20, (int64(after)-int64(base))>>20)
	if after > base+64<<20 {
		t.Fatalf("RSS grew from %d to %d MiB over 100 hostile guests: the host kept their memory", base>>20, after>>20)
	}
}
