package wasm_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// limitOf returns the Limit of the *LimitError in err, or "".
func limitOf(err error) string {
	var le *wasm.LimitError
	if errors.As(err, &le) {
		return le.Limit
	}
	return ""
}

func TestLimitsDefaults(t *testing.T) {
	r, _ := looperRuntime(t, wasm.Limits{})
	l := r.Limits()
	if l.CallTimeout != wasm.DefaultCallTimeout || l.SessionTimeout != wasm.DefaultSessionTimeout ||
		l.MaxCallWork != wasm.DefaultMaxCallWork || l.MaxScratch != r.MaxMemory() {
		t.Fatalf("defaults: %+v (memory %d)", l, r.MaxMemory())
	}
}

// limitedRuntime is a runtime of the real guest, 64 MiB, under lim.
func limitedRuntime(t *testing.T, lim wasm.Limits) *wasm.Runtime {
	t.Helper()
	ctx := context.Background()
	r, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: 64 << 20, CacheDir: cacheDir(t), Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(ctx) })
	return r
}

// TestTimeoutsStopGuests: CallTimeout and SessionTimeout stop a looping
// guest with a LimitError naming them, which also reads as a deadline; the
// guest is closed afterwards.
func TestTimeoutsStopGuests(t *testing.T) {
	for _, c := range []struct {
		limit string
		lim   wasm.Limits
	}{
		{"CallTimeout", wasm.Limits{CallTimeout: 100 * time.Millisecond}},
		{"SessionTimeout", wasm.Limits{SessionTimeout: 300 * time.Millisecond}},
	} {
		t.Run(c.limit, func(t *testing.T) {
			r, ready := looperRuntime(t, c.lim)
			for _, name := range []string{"spin", "spin_calls"} {
				// A fresh guest until one starts before its limit ends it
				// (on a loaded machine one may not: see ran).
				var g *wasm.Guest
				var err error
				for attempt := 0; ; attempt++ {
					if attempt == 10 {
						t.Fatalf("%s: the guest never started within its limit in %d attempts", name, attempt)
					}
					g = cpuGuest(t, r)
					if err = waitErr(t, callAsync(context.Background(), g, name), name); ran(ready) {
						break
					}
				}
				if limitOf(err) != c.limit || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("%s: got %v, want a LimitError of %s", name, err, c.limit)
				}
				if _, err := g.Call(context.Background(), name); !errors.Is(err, wasm.ErrClosed) {
					t.Fatalf("%s: call after the stop: %v", name, err)
				}
			}
		})
	}
}

// TestSessionOverRefusesCalls: once a guest's session is over, a call is
// refused at once, without running.
func TestSessionOverRefusesCalls(t *testing.T) {
	r, _ := looperRuntime(t, wasm.Limits{SessionTimeout: 50 * time.Millisecond})
	g := cpuGuest(t, r)
	time.Sleep(60 * time.Millisecond)
	if _, err := g.Call(context.Background(), "spin"); limitOf(err) != "SessionTimeout" {
		t.Fatalf("call after the session: %v", err)
	}
	if _, err := g.Call(context.Background(), "spin"); !errors.Is(err, wasm.ErrClosed) {
		t.Fatalf("second call after the session: %v", err)
	}
}

// TestMaxCallWork: kernels asking for more multiply-adds than the limit are
// refused before any work with a trap naming the limit; the guest lives on.
func TestMaxCallWork(t *testing.T) {
	ctx := context.Background()
	r := limitedRuntime(t, wasm.Limits{MaxCallWork: 1 << 20})
	w, dw := tinyWeights(t)
	g := newGuest(t, r, device.ZeroCopy)
	g.Weights = dw
	if err := g.LLMInit(ctx, w.Config, device.KVBF16, 32, 8); err != nil {
		t.Fatal(err)
	}
	p := uint32(call(t, g, "alloc", 4<<20)[0])
	refused := func(what string, err error) {
		t.Helper()
		var trap *wasm.TrapError
		if !errors.As(err, &trap) || limitOf(err) != "MaxCallWork" || !strings.Contains(trap.Msg, "multiply-adds") {
			t.Errorf("%s: got %v, want a trap of MaxCallWork", what, err)
		}
	}
	// 128³ = 2^21 multiply-adds.
	_, err := g.Call(ctx, "raw_matmul", uint64(p), 1<<16, uint64(p+1<<16), 1<<16, uint64(p+1<<17), 1<<16, 128, 128, 128)
	refused("matmul 128³", err)
	// Tiny's q projection is 64×64: 512 rows are 2^21.
	refused("linear n=512", callRaw(g, rawLLM{op: 2, args: []uint32{2, p, 512 * 256, p + 1<<20, 512 * 256, 512}}))
	// 2·64·(0+64)·4·16 is 2^19, within; at pos 1000, 2^23 is not.
	c := attentionCall(p, 1, 64, 0, 4, 2, 16)
	if err := callRaw(g, c); err != nil {
		t.Errorf("attention within the limit: %v", err)
	}
	refused("attention pos=1000", callRaw(g, attentionCall(p, 1, 64, 1000, 4, 2, 16)))
	// The guest is alive and still computes.
	if _, err := g.LLMPrefill(ctx, []int32{1, 2, 3}); err != nil {
		t.Fatalf("after the refusals: %v", err)
	}
}

// TestMaxScratch: in copy mode the cpu device stages operands in host
// memory, charged to the guest: an op that needs more than MaxScratch is
// refused with a trap naming it, and the same op runs in zerocopy mode,
// which stages nothing.
func TestMaxScratch(t *testing.T) {
	r := limitedRuntime(t, wasm.Limits{MaxScratch: 1 << 20})
	for _, mode := range []device.Mode{device.Copy, device.ZeroCopy} {
		g := newGuest(t, r, mode)
		p := uint32(call(t, g, "alloc", 2<<20)[0])
		// x += y over 1 MiB each: 2 MiB of staging in copy mode.
		err := callRaw(g, rawLLM{op: 7, args: []uint32{p, 1 << 20, p + 1<<20, 1 << 20, 1 << 18}})
		switch {
		case mode == device.Copy && limitOf(err) != "MaxScratch":
			t.Errorf("copy mode: got %v, want a trap of MaxScratch", err)
		case mode == device.ZeroCopy && err != nil:
			t.Errorf("zerocopy mode: %v", err)
		}
		// Within the limit, copy mode works.
		if err := callRaw(g, rawLLM{op: 7, args: []uint32{p, 1 << 18, p + 1<<20, 1 << 18, 1 << 16}}); err != nil {
			t.Errorf("%s, 512 KiB of staging: %v", mode, err)
		}
	}
}

// TestConcurrentGuests runs several LLM guests at once, each decoding the
// same prompt, while other guests on the same runtime are stopped by
// deadlines and closed mid-call; every LLM guest must decode exactly what a
// guest alone decodes. Run it with -race.
func TestConcurrentGuests(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t)
	w, dw := tinyWeights(t)
	d, _ := cpu.Open()
	decode := func(mode device.Mode) ([]int32, error) {
		g, err := r.Instantiate(ctx, func(max uint64) (device.Memory, error) { return d.NewMemory(mode, max) })
		if err != nil {
			return nil, err
		}
		defer g.Close(ctx)
		g.Weights = dw
		if err := g.LLMInit(ctx, w.Config, device.KVBF16, 32, 8); err != nil {
			return nil, err
		}
		tok, err := g.LLMPrefill(ctx, []int32{1, 17, 300, 42, 511, 0, 9})
		out := []int32{tok}
		for range 12 {
			if err != nil {
				return nil, err
			}
			tok, err = g.LLMDecode(ctx, tok)
			out = append(out, tok)
		}
		return out, err
	}
	want, err := decode(device.ZeroCopy)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			mode := []device.Mode{device.ZeroCopy, device.Copy}[i%2]
			for range 3 {
				got, err := decode(mode)
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("guest %d (%s): %v, %v; alone: %v", i, mode, got, err, want)
					return
				}
			}
		})
	}
	// Meanwhile: long kernels stopped by deadlines, and by Close.
	wg.Go(func() {
		for j := range 6 {
			g, err := r.Instantiate(ctx, func(max uint64) (device.Memory, error) { return d.NewMemory(device.ZeroCopy, max) })
			if err != nil {
				t.Error(err)
				return
			}
			c := attentionCall(0, 1, 4096, 0, 4, 2, 16)
			res, err := g.Call(ctx, "alloc", uint64(c.args[6]+c.args[7]))
			if err != nil {
				t.Error(err)
				return
			}
			c = attentionCall(uint32(res[0]), 1, 4096, 0, 4, 2, 16)
			cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			done := make(chan error, 1)
			go func() { done <- callRawCtx(cctx, g, c) }()
			if j%2 == 1 {
				g.Close(ctx)
			}
			if err := <-done; err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, wasm.ErrClosed) {
				t.Errorf("stopped guest %d: %v", j, err)
			}
			cancel()
			g.Close(ctx)
		}
	})
	wg.Wait()
}

// ExampleLimits bounds each guest of a runtime: a kernel call asking for too
// much work is refused before it starts (the guest lives on), and a call that
// runs past its time is stopped and its guest closed.
func ExampleLimits() {
	ctx := context.Background()
	rt, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: 64 << 20, Limits: wasm.Limits{
		CallTimeout: time.Second, // per call into the guest
		MaxCallWork: 1 << 20,     // multiply-adds per kernel call
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)
	d, _ := cpu.Open()
	g, err := rt.Instantiate(ctx, func(max uint64) (device.Memory, error) { return d.NewMemory(device.ZeroCopy, max) })
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close(ctx)

	// 128×128×128 is 2^21 multiply-adds: refused.
	g.Call(ctx, "mm_setup", 128, 128, 128, 1)
	_, err = g.Call(ctx, "mm_run")
	var le *wasm.LimitError
	fmt.Println("128³ refused by:", errors.As(err, &le), le.Limit)

	// 64×64×64 is 2^18: computed.
	g.Call(ctx, "mm_setup", 64, 64, 64, 1)
	_, err = g.Call(ctx, "mm_run")
	res, _ := g.Call(ctx, "mm_check", 1<<20)
	fmt.Println("64³ computed:", err == nil && math.Float64frombits(res[0]) < 1e-6)

	// Four billion host calls take minutes: stopped at one second.
	_, err = g.Call(ctx, "bench_nop", math.MaxUint32)
	fmt.Println("stopped by:", errors.As(err, &le), le.Limit)
	_, err = g.Call(ctx, "mm_run")
	fmt.Println("guest closed:", errors.Is(err, wasm.ErrClosed))
	// Output:
	// 128³ refused by: true MaxCallWork
	// 64³ computed: true
	// stopped by: true CallTimeout
	// guest closed: true
}
