package wasm_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

func newRuntime(t testing.TB) *wasm.Runtime {
	t.Helper()
	ctx := context.Background()
	r, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: 64 << 20, CacheDir: cacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(ctx) })
	return r
}

// cacheDir shares wazero's compilation cache between tests of one run.
func cacheDir(t testing.TB) string {
	if sharedCache == "" {
		sharedCache = t.TempDir()
	}
	return sharedCache
}

var sharedCache string

func newGuest(t testing.TB, r *wasm.Runtime, mode device.Mode) *wasm.Guest {
	t.Helper()
	d, _ := cpu.Open()
	g, err := r.Instantiate(context.Background(), func(max uint64) (device.Memory, error) { return d.NewMemory(mode, max) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close(context.Background()) })
	return g
}

func call(t testing.TB, g *wasm.Guest, name string, args ...uint64) []uint64 {
	t.Helper()
	res, err := g.Call(context.Background(), name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestMatMulZeroCopyIdentity(t *testing.T) {
	r := newRuntime(t)
	for _, mode := range []device.Mode{device.ZeroCopy, device.Copy} {
		t.Run(string(mode), func(t *testing.T) {
			g := newGuest(t, r, mode)
			const m, n, k = 33, 65, 17
			call(t, g, "mm_setup", m, n, k, 7)
			call(t, g, "mm_run")
			e := math.Float64frombits(call(t, g, "mm_check", 1<<30)[0])
			if !(e < 1e-6) {
				t.Fatalf("max relative error %g, want < 1e-6", e)
			}
			base := g.Base()
			if mb := uintptr(unsafe.Pointer(&g.Memory().Bytes()[0])); mb != base {
				t.Fatalf("wazero's memory base %#x is not the device memory's %#x", base, mb)
			}
			for i, want := range []uintptr{
				base + uintptr(call(t, g, "mm_ptr", 0)[0]),
				base + uintptr(call(t, g, "mm_ptr", 1)[0]),
				base + uintptr(call(t, g, "mm_ptr", 2)[0]),
			} {
				got := g.Last.Addrs[i]
				if mode == device.ZeroCopy && got != want {
					t.Errorf("operand %d: kernel used %#x, want base+offset %#x", i, got, want)
				}
				if mode == device.Copy && got == want {
					t.Errorf("operand %d: copy mode kernel ran in place at %#x", i, got)
				}
			}
		})
	}
}

func TestBaseStableAcrossGrowth(t *testing.T) {
	r := newRuntime(t)
	g := newGuest(t, r, device.ZeroCopy)
	base, size := g.Base(), g.Size()
	call(t, g, "alloc", 32<<20)
	if g.Size() <= size {
		t.Fatalf("memory did not grow: %d -> %d", size, g.Size())
	}
	if g.Base() != base {
		t.Fatalf("base moved on growth: %#x -> %#x", base, g.Base())
	}
	if g.Memory().Size() != g.Size() {
		t.Fatalf("device sees %d bytes in use, wazero %d", g.Memory().Size(), g.Size())
	}
}

func TestGrowBeyondLimitFailsInGuest(t *testing.T) {
	r := newRuntime(t) // 64 MiB limit
	g := newGuest(t, r, device.ZeroCopy)
	if _, err := g.Call(context.Background(), "alloc", 128<<20); err == nil {
		t.Fatal("allocating 128 MiB under a 64 MiB limit succeeded")
	}
}

// hostile is a raw_matmul call a malicious guest might make.
type hostile struct {
	name                string
	a, al, b, bl, c, cl uint32
	m, n, k             uint32
	want                string
}

func hostileCases(valid uint32, size uint32) []hostile {
	v := valid // 3 × 64 bytes of valid memory: A 4×4, B 4×4, C 4×4
	return []hostile{
		{"A past end", size - 32, 64, v + 64, 64, v + 128, 64, 4, 4, 4, "A range"},
		{"B wraps 2^32", v, 64, 0xffffffc0, 0x80, v + 128, 64, 4, 4, 4, "B range"},
		{"C wraps to 0", v, 64, v + 64, 64, 0xffffffff, 64, 4, 4, 4, "C range"},
		{"C beyond memory", v, 64, v + 64, 64, size, 64, 4, 4, 4, "C range"},
		{"C overlaps A", v, 64, v + 64, 64, v + 32, 64, 4, 4, 4, "overlaps input 0"},
		{"C overlaps B", v, 64, v + 64, 64, v + 100, 64, 4, 4, 4, "overlaps input 1"},
		{"shape lies about A", v, 64, v + 64, 64, v + 128, 64, 8, 4, 4, "A is 64 bytes"},
		{"huge shape", v, 64, v + 64, 64, v + 128, 64, 1 << 30, 1 << 30, 1 << 30, "A is 64 bytes"},
	}
}

func TestHostileGuestTraps(t *testing.T) {
	r := newRuntime(t)
	g := newGuest(t, r, device.ZeroCopy)
	valid := uint32(call(t, g, "alloc", 192)[0])
	size := uint32(g.Size())
	for _, h := range hostileCases(valid, size) {
		t.Run(h.name, func(t *testing.T) {
			_, err := g.Call(context.Background(), "raw_matmul",
				uint64(h.a), uint64(h.al), uint64(h.b), uint64(h.bl), uint64(h.c), uint64(h.cl),
				uint64(h.m), uint64(h.n), uint64(h.k))
			var trap *wasm.TrapError
			if !errors.As(err, &trap) {
				t.Fatalf("got %v, want a TrapError", err)
			}
			if trap.Func != "matmul" || !strings.Contains(trap.Msg, h.want) {
				t.Fatalf("trap %q, want one from matmul mentioning %q", err, h.want)
			}
		})
	}
	// The same instance still works after the traps, and so does a new one.
	call(t, g, "mm_setup", 8, 8, 8, 1)
	call(t, g, "mm_run")
	if e := math.Float64frombits(call(t, g, "mm_check", 1<<30)[0]); !(e < 1e-6) {
		t.Fatalf("after traps: error %g", e)
	}
	g2 := newGuest(t, r, device.ZeroCopy)
	call(t, g2, "mm_setup", 8, 8, 8, 1)
	call(t, g2, "mm_run")
	if e := math.Float64frombits(call(t, g2, "mm_check", 1<<30)[0]); !(e < 1e-6) {
		t.Fatalf("new instance after traps: error %g", e)
	}
}

func TestCallErrors(t *testing.T) {
	r := newRuntime(t)
	g := newGuest(t, r, device.ZeroCopy)
	if _, err := g.Call(context.Background(), "no_such_export"); err == nil || !strings.Contains(err.Error(), "no such function") {
		t.Fatalf("missing export: %v", err)
	}
	g.Close(context.Background())
	if _, err := g.Call(context.Background(), "mm_run"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("call after close: %v", err)
	}
}

func TestInstantiateMemoryFailure(t *testing.T) {
	r := newRuntime(t)
	_, err := r.Instantiate(context.Background(), func(uint64) (device.Memory, error) {
		return nil, device.ErrUnsupportedMode
	})
	if !errors.Is(err, device.ErrUnsupportedMode) {
		t.Fatalf("got %v, want the memory error", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := wasm.New(ctx, wasm.Config{}); err == nil {
		t.Fatal("empty module accepted")
	}
	if _, err := wasm.New(ctx, wasm.Config{Wasm: []byte("not wasm")}); err == nil || !strings.Contains(err.Error(), "compile guest") {
		t.Fatalf("garbage module: %v", err)
	}
	if _, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: 5 << 30}); err == nil {
		t.Fatal("5 GiB limit accepted")
	}
}

// FuzzHostileMatMul hands the host's matmul arbitrary ranges and shapes. The
// host must either compute a product into a range inside the guest's memory
// or trap; it must never crash. C may legally land on the guest's own Go
// runtime, after which the guest may fault on its corrupted state ("wasm
// error: …"): that guest is replaced, and a new one must work.
func FuzzHostileMatMul(f *testing.F) {
	ctx := context.Background()
	r := newRuntime(f)
	d, _ := cpu.Open()
	fresh := func() (*wasm.Guest, error) {
		return r.Instantiate(ctx, func(max uint64) (device.Memory, error) { return d.NewMemory(device.ZeroCopy, max) })
	}
	g, err := fresh()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { g.Close(ctx) })
	valid := uint32(call(f, g, "alloc", 192)[0])
	size := uint32(g.Size())
	for _, h := range hostileCases(valid, size) {
		f.Add(h.a, h.al, h.b, h.bl, h.c, h.cl, h.m, h.n, h.k)
	}
	f.Add(valid, uint32(64), valid+64, uint32(64), valid+128, uint32(64), uint32(4), uint32(4), uint32(4))
	f.Fuzz(func(t *testing.T, a, al, b, bl, c, cl, m, n, k uint32) {
		// Keep legal products small so the fuzzer spends its time on bounds.
		if uint64(m)*uint64(n)*uint64(k) > 1<<16 {
			m, n, k = m%64, n%64, k%64
		}
		_, err := g.Call(context.Background(), "raw_matmul",
			uint64(a), uint64(al), uint64(b), uint64(bl), uint64(c), uint64(cl), uint64(m), uint64(n), uint64(k))
		if err != nil {
			var trap *wasm.TrapError
			if errors.As(err, &trap) {
				return
			}
			if !strings.Contains(err.Error(), "wasm error:") {
				t.Fatalf("neither a host trap nor a guest fault: %v", err)
			}
			g.Close(ctx)
			if g, err = fresh(); err != nil {
				t.Fatalf("no new guest after a guest fault: %v", err)
			}
			if _, err := g.Call(ctx, "mm_setup", 8, 8, 8, 1); err != nil {
				t.Fatalf("new guest after a guest fault: %v", err)
			}
			return
		}
		// Accepted: every range must have been inside memory and C disjoint from A and B.
		sz := uint64(g.Size())
		for _, s := range [][2]uint32{{a, al}, {b, bl}, {c, cl}} {
			if uint64(s[0])+uint64(s[1]) > sz {
				t.Fatalf("accepted out-of-range span %#x+%#x (memory %#x)", s[0], s[1], sz)
			}
		}
		sa := device.Span{Off: uint64(a), Len: uint64(al)}
		sb := device.Span{Off: uint64(b), Len: uint64(bl)}
		sc := device.Span{Off: uint64(c), Len: uint64(cl)}
		if sc.Overlaps(sa) || sc.Overlaps(sb) {
			t.Fatalf("accepted overlapping output")
		}
	})
}
