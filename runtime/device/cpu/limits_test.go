package cpu

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// recovered runs f and returns the error of the panic it ended with, or nil.
func recovered(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = device.Recovered(r)
		}
	}()
	f()
	return nil
}

// TestParallelStops: a loop whose stop flag is set ends without running the
// chunks not yet claimed and panics with ErrStopped on the caller, after the
// chunks already running are done; one whose flag is set before it starts
// runs nothing.
func TestParallelStops(t *testing.T) {
	var stop atomic.Bool
	var ran, running atomic.Int64
	st := &stopper{flag: &stop}
	err := recovered(func() {
		parallel(st, 1000, 1, func(_ *worker, lo, hi int) {
			running.Add(1)
			if ran.Add(1) == 10 {
				stop.Store(true)
			}
			running.Add(-1)
		})
	})
	if !errors.Is(err, device.ErrStopped) {
		t.Fatalf("got %v, want ErrStopped", err)
	}
	if n := ran.Load(); n < 10 || n > 10+int64(workers().size) {
		t.Fatalf("%d chunks ran after the stop at the 10th, want at most one per worker more", n)
	}
	if running.Load() != 0 {
		t.Fatal("parallel returned while a chunk was running")
	}
	ran.Store(0)
	err = recovered(func() { parallel(st, 1000, 1, func(_ *worker, lo, hi int) { ran.Add(1) }) })
	if !errors.Is(err, device.ErrStopped) || ran.Load() != 0 {
		t.Fatalf("stopped before the start: %v, %d chunks ran", err, ran.Load())
	}
}

// TestParallelStopsAtDeadline: a loop ends at its deadline by its own
// clock, and sets the stop flag for the sandbox to read.
func TestParallelStopsAtDeadline(t *testing.T) {
	var stop atomic.Bool
	var deadline atomic.Int64
	st := &stopper{flag: &stop, deadline: &deadline}
	var ran atomic.Int64
	body := func(_ *worker, lo, hi int) {
		if ran.Add(1) == 5 {
			deadline.Store(1) // long past
		}
	}
	if err := recovered(func() { parallel(st, 1000, 1, body) }); !errors.Is(err, device.ErrStopped) || !stop.Load() {
		t.Fatalf("past its deadline: %v, stop flag %v", err, stop.Load())
	}
	stop.Store(false)
	deadline.Store(0) // none: runs to the end
	ran.Store(0)
	if err := recovered(func() { parallel(st, 1000, 1, func(_ *worker, lo, hi int) { ran.Add(1) }) }); err != nil || ran.Load() != 1000 {
		t.Fatalf("no deadline: %v, %d chunks", err, ran.Load())
	}
}

// TestParallelChunkPanic: a panic in any chunk (on a helper or the caller)
// reaches the caller as a panic after every chunk is done, instead of
// killing the process from a helper goroutine; the pool works afterwards.
func TestParallelChunkPanic(t *testing.T) {
	for _, at := range []int{0, 1, 63} {
		err := recovered(func() {
			parallel(nil, 64, 1, func(_ *worker, lo, hi int) {
				if lo == at {
					panic("chunk failed")
				}
			})
		})
		if err == nil || err.Error() != "internal error: chunk failed" {
			t.Fatalf("panic in chunk %d: got %v", at, err)
		}
	}
	if err := checkParallel(4096, 64); err != nil {
		t.Fatalf("after the panics: %v", err)
	}
}

// TestWorkerScratchIsBounded: scratch larger than maxKeptScratch is lent,
// not kept.
func TestWorkerScratchIsBounded(t *testing.T) {
	var w worker
	_ = w.floats(1 << 20)
	if cap(w.scratch) != 0 {
		t.Fatalf("kept %d floats after a request of 2^20", cap(w.scratch))
	}
	_ = w.floats(100)
	if cap(w.scratch) < 100 {
		t.Fatal("small scratch is not kept")
	}
}

// TestAttentionTilesMatchFloat64: contexts of several tiles (the online
// softmax) against float64 attention, with a key far larger than the
// others late in the context so that the running maximum moves.
func TestAttentionTilesMatchFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, dt := range []device.KVDType{device.KVBF16, device.KVF32} {
		for _, np := range [][2]int{{1, attnTile}, {1, 2*attnTile + 37}, {3, 3*attnTile - 2}} {
			const heads, kvHeads, headDim = 4, 2, 64
			n, pos := np[0], np[1]
			ctx := pos + n
			q := randFloats(r, n*heads*headDim)
			keys := randFloats(r, ctx*kvHeads*headDim)
			for i := range headDim { // row ctx-2 dominates: the maximum moves in the last tile
				keys[(ctx-2)*kvHeads*headDim+i] = 4 * q[i]
			}
			kc := make([]byte, ctx*kvHeads*headDim*dt.Size())
			vc := make([]byte, len(kc))
			kvstore(keys, kc, dt, len(keys))
			kvstore(randFloats(r, len(keys)), vc, dt, len(keys))
			got := make([]float32, n*heads*headDim)
			attention(nil, q, kc, vc, got, dt, n, pos, heads, kvHeads, headDim)
			want := refAttention(q, kc, vc, dt, n, pos, heads, kvHeads, headDim)
			for i := range got {
				if d := math.Abs(float64(got[i]) - want[i]); !(d <= 1e-5*(1+math.Abs(want[i]))) {
					t.Fatalf("%v n=%d pos=%d: out[%d] = %v, float64 %v", dt, n, pos, i, got[i], want[i])
				}
			}
		}
	}
}

// TestArgmaxNonFinite: a row holding NaN or an infinity gives -1; finite
// rows keep their argmax (first on ties).
func TestArgmaxNonFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	rows := [][]float32{{1, 3, 3, 2}, {nan, 5, 1, 0}, {1, 2, inf, 0}, {-inf, 1, 2, 0}, {0, 0, 0, 2}}
	want := []int32{1, -1, -1, -1, 3}
	var x []float32
	for _, r := range rows {
		x = append(x, r...)
	}
	out := make([]int32, len(rows))
	argmax(x, out, len(rows), 4)
	for i := range want {
		if out[i] != want[i] {
			t.Errorf("row %d %v: argmax %d, want %d", i, rows[i], out[i], want[i])
		}
	}
}

// TestMemoryLimits: a Memory's stop flag ends its kernels (Linear, MatMul)
// with ErrStopped, and copy mode's staging may not pass MaxScratch.
func TestMemoryLimits(t *testing.T) {
	d, _ := Open()
	w, err := d.LoadWeights([]device.WeightTensor{weightOf(t, "BF16", 512, 64, make([]float32, 512*64))})
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range d.Modes() {
		mem, _ := d.NewMemory(mode, 1<<20)
		mem.Grow(1 << 20)
		var stop atomic.Bool
		mem.(device.Limiter).SetLimits(device.KernelLimits{Stop: &stop, Deadline: new(atomic.Int64), MaxScratch: 64 << 10})
		ops := mem.(device.LLMOps)
		x, out := device.Span{Off: 0, Len: 4 * 16 * 64}, device.Span{Off: 1 << 16, Len: 4 * 16 * 512}
		if err := recovered(func() { ops.Linear(w, 0, x, out, 16) }); err != nil {
			t.Fatalf("%s: linear within the limits: %v", mode, err)
		}
		big := device.Span{Off: 1 << 17, Len: 4 * 64 * 512}
		err := recovered(func() { ops.Linear(w, 0, device.Span{Off: 0, Len: 4 * 64 * 64}, big, 64) })
		var ks *device.KernelStop
		if mode == device.Copy && (!errors.As(err, &ks) || ks.Limit != "MaxScratch") {
			t.Errorf("copy: 144 KiB of staging under a 64 KiB limit: %v", err)
		}
		if mode == device.ZeroCopy && err != nil {
			t.Errorf("zerocopy stages nothing: %v", err)
		}
		stop.Store(true)
		if err := recovered(func() { ops.Linear(w, 0, x, out, 16) }); !errors.Is(err, device.ErrStopped) {
			t.Errorf("%s: linear after the stop: %v", mode, err)
		}
		a := device.Span{Off: 0, Len: 4 * 64 * 64}
		if err := recovered(func() {
			mem.MatMul(a, device.Span{Off: a.Len, Len: a.Len}, device.Span{Off: 2 * a.Len, Len: a.Len}, 64, 64, 64)
		}); !errors.Is(err, device.ErrStopped) {
			t.Errorf("%s: matmul after the stop: %v", mode, err)
		}
		mem.Close()
	}
}

// TestMatMulRejectsWrappingShapes: shapes whose byte sizes wrap 64 bits
// are an error, not a product gonum panics on.
func TestMatMulRejectsWrappingShapes(t *testing.T) {
	d, _ := Open()
	mem, _ := d.NewMemory(device.ZeroCopy, 1<<20)
	defer mem.Close()
	mem.Grow(1 << 20)
	for _, s := range [][3]int{{1 << 31, 1 << 31, 1 << 31}, {3037000500, 3037000500, 3037000500}} {
		err := recovered(func() {
			_, err := mem.MatMul(device.Span{}, device.Span{}, device.Span{}, s[0], s[1], s[2])
			if err == nil {
				t.Errorf("%v accepted", s)
			}
		})
		if err != nil {
			t.Errorf("%v: panicked: %v", s, err)
		}
	}
}

// TestTruncatedWeightsFault: weights read from a file mapping whose file
// was truncated under it make the kernel panic with a MemoryFault (the pool
// runs with SetPanicOnFault), which its caller recovers: the process lives.
func TestTruncatedWeightsFault(t *testing.T) {
	const rows, cols = 4096, 256 // 2 MiB of bf16: many pages, several chunks
	r := rand.New(rand.NewPCG(5, 6))
	wt := weightOf(t, "BF16", rows, cols, randFloats(r, rows*cols))
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := safetensors.Write(path, []safetensors.Tensor{{Name: "w", DType: "BF16", Shape: []int{rows, cols}, Data: wt.Data}}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Tensor("w")
	d, _ := Open()
	w, err := d.LoadWeights([]device.WeightTensor{{Name: st.Name, DType: string(st.DType), Shape: st.Shape, Data: st.Data}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	mem, _ := d.NewMemory(device.ZeroCopy, 1<<20)
	defer mem.Close()
	mem.Grow(1 << 20)
	ops := mem.(device.LLMOps)
	for _, n := range []int{1, 3} { // the GEMV and the GEMM
		err := recovered(func() {
			ops.Linear(w, 0, device.Span{Off: 0, Len: uint64(4 * n * cols)}, device.Span{Off: 1 << 16, Len: uint64(4 * n * rows)}, n)
		})
		var mf *device.MemoryFault
		if !errors.As(err, &mf) {
			t.Fatalf("n=%d: linear over a truncated mapping: %v, want a MemoryFault", n, err)
		}
		if base := uintptr(unsafe.Pointer(&st.Data[0])); mf.Addr < base || mf.Addr >= base+uintptr(len(st.Data)) {
			t.Errorf("fault at %#x, outside the weights [%#x, +%d)", mf.Addr, base, len(st.Data))
		}
	}
}
