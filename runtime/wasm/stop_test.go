package wasm_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// The hostile loopers: a module whose exports never return by themselves.
// Function indices: 0 wasmgpu.nop, 1 wasmgpu.ready (a test host function
// that reports the guest has started), then the exports.
var loopers = testModule{
	imports: []testImport{{"nop", 1, 1}, {"ready", 0, 0}},
	funcs: []testFunc{
		// spin: a pure loop, no host call, no memory access.
		{name: "spin", body: append(callFn(1), forever()...)},
		// spin_calls: a loop of host calls.
		{name: "spin_calls", body: append(callFn(1), forever(append(append(i32s(7), callFn(0)...), opDrop)...)...)},
	},
	memPages: 1,
}

// watchdog is how long a test waits for something that must happen before
// it calls it a hang. It is not a timing threshold: the limits under test
// are 100 ms and the latency they achieve is measured by
// BenchmarkStopLatency, not asserted here.
const watchdog = 30 * time.Second

// looperRuntime makes a runtime of the looper module whose ready host
// function signals on the returned channel each time a guest starts.
func looperRuntime(t testing.TB, lim wasm.Limits) (*wasm.Runtime, chan struct{}) {
	t.Helper()
	ready := make(chan struct{}, 16)
	ctx := context.Background()
	r, err := wasm.New(ctx, wasm.Config{Wasm: loopers.encode(), MaxMemory: 1 << 20, Limits: lim,
		Funcs: []wasm.HostFunc{{Name: "ready", Fn: func(context.Context, *wasm.Guest, []uint64) { ready <- struct{}{} }}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(ctx) })
	return r, ready
}

func cpuGuest(t testing.TB, r *wasm.Runtime) *wasm.Guest {
	t.Helper()
	d, _ := cpu.Open()
	g, err := r.Instantiate(context.Background(), func(max uint64) (device.Memory, error) { return d.NewMemory(device.ZeroCopy, max) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close(context.Background()) })
	return g
}

// callAsync runs g.Call in a goroutine and returns its error on a channel.
func callAsync(ctx context.Context, g *wasm.Guest, name string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := g.Call(ctx, name)
		done <- err
	}()
	return done
}

// ran reports whether a looper guest whose call has returned had started
// its loop: said ready, which it does before the loop, so before the call
// returned. On a loaded machine a deadline can pass before it starts.
func ran(ready chan struct{}) bool {
	select {
	case <-ready:
		return true
	default:
		return false
	}
}

func waitErr(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(watchdog):
		t.Fatalf("%s: the guest still runs %v later", what, watchdog)
		return nil
	}
}

// TestDeadlineStopsLoopingGuest: a guest spinning with or without host calls
// is stopped by its context's deadline, and the guest is closed. On a
// loaded machine the deadline may pass before the guest starts (it then
// never says ready): that attempt proves nothing, and a fresh guest tries
// again.
func TestDeadlineStopsLoopingGuest(t *testing.T) {
	r, ready := looperRuntime(t, wasm.Limits{})
	for _, name := range []string{"spin", "spin_calls"} {
		t.Run(name, func(t *testing.T) {
			var g *wasm.Guest
			var err error
			var start time.Time
			for attempt := 0; ; attempt++ {
				if attempt == 10 {
					t.Fatalf("the guest never started within its 100ms deadline in %d attempts", attempt)
				}
				g = cpuGuest(t, r)
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				start = time.Now()
				err = waitErr(t, callAsync(ctx, g, name), name)
				cancel()
				if ran(ready) {
					break
				}
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %v, want an error wrapping context.DeadlineExceeded", err)
			}
			t.Logf("%s stopped %v after a 100ms deadline", name, time.Since(start))
			if _, err := g.Call(context.Background(), name); err == nil || !strings.Contains(err.Error(), "closed") {
				t.Fatalf("call after the stop: %v, want the guest closed", err)
			}
		})
	}
}

// TestCloseStopsRunningGuest: Close from another goroutine stops a running
// guest (pure loop or loop of host calls) and releases its memory only once
// the guest has left it.
func TestCloseStopsRunningGuest(t *testing.T) {
	r, ready := looperRuntime(t, wasm.Limits{})
	for _, name := range []string{"spin", "spin_calls"} {
		t.Run(name, func(t *testing.T) {
			g := cpuGuest(t, r)
			done := callAsync(context.Background(), g, name)
			<-ready
			if err := g.Close(context.Background()); err != nil {
				t.Fatalf("close: %v", err)
			}
			if err := waitErr(t, done, name); err == nil || !strings.Contains(err.Error(), "closed") {
				t.Fatalf("got %v, want the call to end because the guest was closed", err)
			}
		})
	}
}

// TestGCRunsWhileGuestSpins: the host's garbage collector completes while a
// guest spins in a loop with no host call (before the fix, the collector's
// stop-the-world waited for ever on the guest's goroutine).
func TestGCRunsWhileGuestSpins(t *testing.T) {
	r, ready := looperRuntime(t, wasm.Limits{})
	g := cpuGuest(t, r)
	done := callAsync(context.Background(), g, "spin")
	<-ready
	gc := make(chan struct{})
	go func() {
		runtime.GC()
		close(gc)
	}()
	select {
	case <-gc:
	case err := <-done:
		t.Fatalf("the guest stopped by itself: %v", err)
	case <-time.After(watchdog):
		t.Fatalf("runtime.GC did not return in %v while a guest spins", watchdog)
	}
	g.Close(context.Background())
	waitErr(t, done, "spin")
}

// TestOtherGuestsRunWhileOneIsStopped: stopping one guest leaves the others
// (of the same runtime) working. Each guest is stopped once it has said it
// runs (ready), not at a deadline that may pass, on a loaded machine,
// before it starts: then it would never say so, and the test would wait
// for ever.
func TestOtherGuestsRunWhileOneIsStopped(t *testing.T) {
	r, ready := looperRuntime(t, wasm.Limits{})
	started := func(what string) {
		t.Helper()
		select {
		case <-ready:
		case <-time.After(watchdog):
			t.Fatalf("%s: the guest did not start within %v", what, watchdog)
		}
	}
	var wg sync.WaitGroup
	var stops []context.CancelFunc
	for range 3 {
		g := cpuGuest(t, r)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stops = append(stops, cancel)
		done := callAsync(ctx, g, "spin_calls")
		wg.Go(func() { waitErr(t, done, "spin_calls") })
	}
	for range 3 {
		started("spin_calls")
	}
	survivor := cpuGuest(t, r)
	for _, stop := range stops {
		stop()
	}
	wg.Wait()
	for i := range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		done := callAsync(ctx, survivor, "spin_calls")
		started("survivor")
		cancel()
		if err := waitErr(t, done, "survivor"); !errors.Is(err, context.Canceled) {
			t.Fatalf("survivor call %d: %v", i, err)
		}
		survivor = cpuGuest(t, r)
	}
}

// TestGuestWithoutMemory: a module that declares no memory is a guest like
// any other: Size is 0, Base is 0, and a host call with ranges traps.
func TestGuestWithoutMemory(t *testing.T) {
	mod := testModule{
		imports:  []testImport{{"matmul", 9, 0}},
		funcs:    []testFunc{{name: "mm", body: append(i32s(0, 4, 0, 4, 0, 4, 1, 1, 1), callFn(0)...)}},
		memPages: -1,
	}
	ctx := context.Background()
	r, err := wasm.New(ctx, wasm.Config{Wasm: mod.encode(), MaxMemory: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	g := cpuGuest(t, r)
	if g.Size() != 0 || g.Base() != 0 {
		t.Fatalf("Size %d, Base %#x: want 0, 0", g.Size(), g.Base())
	}
	if _, ok := g.Read(0, 1); ok {
		t.Fatal("Read of a guest without memory succeeded")
	}
	_, err = g.Call(ctx, "mm")
	var trap *wasm.TrapError
	if !errors.As(err, &trap) || !strings.Contains(trap.Msg, "outside linear memory of 0x0 bytes") {
		t.Fatalf("matmul from a guest without memory: %v", err)
	}
}

// TestFourGiBGuestSize: a guest whose memory is the whole 4 GiB address
// space reports 4 GiB, not 0 (a uint32 wraps), and its host calls see it.
func TestFourGiBGuestSize(t *testing.T) {
	const pages = 65536
	mod := testModule{
		imports:  []testImport{{"matmul", 9, 0}},
		funcs:    []testFunc{{name: "mm", body: append(i32s(0xfffff000, 64, 0xfffff040, 64, 0xfffff080, 64, 4, 4, 4), callFn(0)...)}},
		memPages: pages,
	}
	ctx := context.Background()
	r, err := wasm.New(ctx, wasm.Config{Wasm: mod.encode(), MaxMemory: pages * 65536})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	g := cpuGuest(t, r)
	if g.Size() != 4<<30 {
		t.Fatalf("Size %d, want %d", g.Size(), uint64(4<<30))
	}
	if _, err := g.Call(ctx, "mm"); err != nil {
		t.Fatalf("matmul at the top of a 4 GiB memory: %v", err)
	}
}

// TestMatMulSizeWrap: shapes whose byte sizes wrap 64 bits are refused with
// a trap naming the operand, never passed to the device.
func TestMatMulSizeWrap(t *testing.T) {
	r := newRuntime(t)
	g := newGuest(t, r, device.ZeroCopy)
	for _, s := range [][3]uint32{{1 << 31, 1 << 31, 1 << 31}, {3037000500, 3037000500, 3037000500}, {1 << 31, 1, 1 << 31}} {
		_, err := g.Call(context.Background(), "raw_matmul", 0, 0, 0, 0, 0, 0, uint64(s[0]), uint64(s[1]), uint64(s[2]))
		var trap *wasm.TrapError
		if !errors.As(err, &trap) || trap.Func != "matmul" {
			t.Fatalf("m, n, k = %v: got %v, want a trap from matmul", s, err)
		}
	}
}

var _ = api.ValueTypeI32
