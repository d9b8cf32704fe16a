package wasm_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/internal/rss"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
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
	b := make([]byte, 4*maxWire)
	for i, a := range c.args {
		binary.LittleEndian.PutUint32(b[4*i:], a)
	}
	dst, ok := g.Read(uint32(p[0]), uint32(len(b)))
	if !ok {
		return fmt.Errorf("llm_raw_args %#x is outside the guest's memory", p[0])
	}
	copy(dst, b)
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

// FuzzHostileGuest plays a hostile guest against limits that refuse: every
// LLM kernel with arbitrary ranges and shapes (llm_raw), matmul, memory
// growth and prefills of arbitrary tokens, on a zerocopy and a copy-mode
// guest, under a small MaxCallWork and MaxScratch. The host must run each
// call, refuse it with a trap, or let the guest fault on memory the guest
// itself corrupted; it must never crash, and a replaced guest must work.
// REPRODUCE.md records a run of 10^6 executions.
func FuzzHostileGuest(f *testing.F) {
	ctx := context.Background()
	r, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: 64 << 20, CacheDir: cacheDir(f),
		Limits: wasm.Limits{MaxCallWork: 1 << 24, MaxScratch: 4 << 20}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.Close(ctx) })
	w, dw := tinyWeights(f)
	d, _ := cpu.Open()
	modes := []device.Mode{device.ZeroCopy, device.Copy}
	fresh := func(mode device.Mode) *wasm.Guest {
		g, err := r.Instantiate(ctx, func(max uint64) (device.Memory, error) { return d.NewMemory(mode, max) })
		if err != nil {
			f.Fatalf("no new guest: %v", err)
		}
		g.Weights = dw
		if err := g.LLMInit(ctx, w.Config, device.KVBF16, 32, 8); err != nil {
			f.Fatalf("new guest: %v", err)
		}
		return g
	}
	guests := []*wasm.Guest{fresh(modes[0]), fresh(modes[1])}
	f.Cleanup(func() {
		for _, g := range guests {
			g.Close(ctx)
		}
	})
	v := uint32(call(f, guests[0], "alloc", 64<<10)[0])
	size := uint32(guests[0].Size())
	for _, c := range hostileLLMCases(v, size) {
		a := make([]uint32, 18)
		copy(a, c.args)
		f.Add(uint8(c.op), false, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17])
	}
	for _, h := range hostileCases(v, size) {
		f.Add(uint8(13), true, h.a, h.al, h.b, h.bl, h.c, h.cl, h.m, h.n, h.k, uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0))
	}
	f.Add(uint8(14), false, uint32(40<<20), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0))
	f.Add(uint8(15), true, uint32(1), uint32(2), uint32(600), uint32(3), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0))
	f.Fuzz(func(t *testing.T, op uint8, copyMode bool, a, b, c, dd, e, ff, gg, h, i, j, k, l, m, n, o, p, q, rr uint32) {
		args := []uint32{a, b, c, dd, e, ff, gg, h, i, j, k, l, m, n, o, p, q, rr}
		mi := 0
		if copyMode {
			mi = 1
		}
		g := guests[mi]
		// Keep legal work small so the fuzzer spends its time on bounds.
		for x := range args {
			if args[x] > 1<<20 && args[x] < size-(1<<20) {
				args[x] %= 1 << 12
			}
		}
		var err error
		nops := uint8(len(llmabi.Ops()))
		switch op %= nops + 3; {
		case op < nops:
			err = callRaw(g, rawLLM{op: llmabi.Op(op), args: args})
		case op == nops:
			_, err = g.Call(ctx, "raw_matmul", uint64(a), uint64(b), uint64(c), uint64(dd), uint64(e), uint64(ff), uint64(gg), uint64(h), uint64(i))
		case op == nops+1:
			_, err = g.Call(ctx, "alloc", uint64(a%(48<<20)))
		default:
			toks := make([]int32, 1+a%16)
			for x := range toks {
				toks[x] = int32(args[1+x%17] % 600) // some outside Tiny's 512
			}
			_, err = g.LLMPrefill(ctx, toks)
		}
		var trap *wasm.TrapError
		switch {
		case err == nil || errors.As(err, &trap):
			return
		case op >= 14 && !strings.Contains(err.Error(), "wasm error:"):
			// The guest's own answer: allocation failed, a prefill refused
			// (bad token, context full) or its engine broken by an earlier
			// kernel writing over its state.
			return
		case !strings.Contains(err.Error(), "wasm error:"):
			t.Fatalf("neither a host trap nor a guest fault: %v", err)
		}
		// The guest broke itself; the host must be intact.
		g.Close(ctx)
		guests[mi] = fresh(modes[mi])
		if _, perr := guests[mi].LLMPrefill(ctx, []int32{1, 2, 3}); perr != nil {
			t.Fatalf("new guest after a guest fault: %v", perr)
		}
	})
}

// BenchmarkStopLatency measures how long after its deadline a guest call
// returns: a pure loop, a loop of host calls, and one long attention kernel
// (Tiny's shape, n = 32768: seconds of work), with the deadline a context's
// or the runtime's CallTimeout (not for the kernel, whose setup would run
// under it too; its kernels check the one deadline either way). It reports the median, p90 and worst of b.N
// stops as ms-late, ms-late-p90 and ms-late-max.
func BenchmarkStopLatency(b *testing.B) {
	const deadline = 100 * time.Millisecond
	for _, by := range []string{"context", "CallTimeout"} {
		var lim wasm.Limits
		if by == "CallTimeout" {
			lim.CallTimeout = deadline
		}
		lr, ready := looperRuntime(b, lim)
		rt, err := wasm.New(context.Background(), wasm.Config{Wasm: guest.Wasm, MaxMemory: 64 << 20, CacheDir: cacheDir(b), Limits: lim})
		if err != nil {
			b.Fatal(err)
		}
		defer rt.Close(context.Background())
		for _, name := range []string{"spin", "spin_calls", "attention"} {
			if by == "CallTimeout" && name == "attention" {
				continue // its setup calls (instantiate, alloc) would run under the 100 ms limit too
			}
			b.Run(by+"/"+name, func(b *testing.B) {
				var late []time.Duration
				for range b.N {
					var g *wasm.Guest
					var c rawLLM
					if name == "attention" {
						g = newGuest(b, rt, device.ZeroCopy)
						c = attentionCall(0, 1, 32768, 0, 4, 2, 16)
						c = attentionCall(uint32(call(b, g, "alloc", uint64(c.args[6]+c.args[7]))[0]), 1, 32768, 0, 4, 2, 16)
					} else {
						g = cpuGuest(b, lr)
					}
					ctx, cancel := context.Background(), context.CancelFunc(func() {})
					if by == "context" {
						ctx, cancel = context.WithTimeout(ctx, deadline)
					}
					end := time.Now().Add(deadline)
					if name == "attention" {
						err = callRawCtx(ctx, g, c)
					} else {
						_, err = g.Call(ctx, name)
						<-ready
					}
					late = append(late, time.Since(end))
					cancel()
					if !errors.Is(err, context.DeadlineExceeded) {
						b.Fatalf("%s: %v", name, err)
					}
					g.Close(context.Background())
				}
				slices.Sort(late)
				b.ReportMetric(float64(late[len(late)/2])/1e6, "ms-late")
				b.ReportMetric(float64(late[len(late)*9/10])/1e6, "ms-late-p90")
				b.ReportMetric(float64(late[len(late)-1])/1e6, "ms-late-max")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
