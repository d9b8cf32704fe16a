package cuda

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/conformance"
)

// BenchmarkMatMul times one synchronous MatMul per op (copies included in
// copy mode) and reports the GEMM's own GPU time as gpu-us/op.
// copy+pinned is copy mode with Options.PinnedCopy; managed+prefetch is
// managed mode with Options.PrefetchManaged.
func BenchmarkMatMul(b *testing.B) {
	d := gpu(b)
	variants := map[string]Options{"copy+pinned": {PinnedCopy: true}, "managed+prefetch": {PrefetchManaged: true}}
	opened := map[string]*Device{}
	defer func() {
		for _, dev := range opened {
			dev.Close()
		}
	}()
	for _, n := range []int{128, 1024, 4096} {
		for _, name := range []string{"copy", "copy+pinned", "mapped", "managed", "managed+prefetch", "resident"} {
			b.Run(name+"/n="+itoa(n), func(b *testing.B) {
				dev, mode := d, name
				if opts, ok := variants[name]; ok {
					if opened[name] == nil {
						o, err := OpenWith(opts)
						if err != nil {
							b.Fatal(err)
						}
						opened[name] = o
					}
					dev, mode = opened[name], name[:strings.IndexByte(name, '+')]
				}
				benchMatMul(b, dev, device.Mode(mode), n)
			})
		}
	}
}

func benchMatMul(b *testing.B, d *Device, mode device.Mode, n int) {
	sz := uint64(n*n) * 4
	a, bb, c := device.Span{Off: 0, Len: sz}, device.Span{Off: sz, Len: sz}, device.Span{Off: 2 * sz, Len: sz}
	dm, err := d.NewMemory(mode, 3*sz)
	if err != nil {
		b.Fatal(err)
	}
	defer dm.Close()
	if err := dm.Grow(3 * sz); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	in := f32(dm.Bytes(), 0, 2*n*n)
	for i := range in {
		in[i] = r.Float32() - 0.5
	}
	if rm, ok := dm.(*ResidentMemory); ok {
		if err := rm.Upload(device.Span{Off: 0, Len: 2 * sz}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := dm.MatMul(a, bb, c, n, n, n); err != nil { // warm-up: cuBLAS picks and loads its kernel
		b.Fatal(err)
	}
	var gpuTime time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := dm.MatMul(a, bb, c, n, n, n)
		if err != nil {
			b.Fatal(err)
		}
		gpuTime += rep.DeviceTime
	}
	b.ReportMetric(float64(gpuTime.Microseconds())/float64(b.N), "gpu-us/op")
	b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e12, "TFLOP/s")
}

// BenchmarkDispatch prices the host side of a kernel call.
//   - launch+sync: Launch of an empty kernel and Sync, the round trip a
//     synchronous guest host call pays at least;
//   - launch: Launch alone (the queue is drained every 256 launches), the
//     cost per kernel when a token's ~200 kernels are queued back to back;
//   - enter+leave: LockOSThread + cuCtxSetCurrent + UnlockOSThread, the
//     threading design's share;
//   - matmul16: a whole 16×16×16 resident MatMul (events, cuBLAS, sync).
func BenchmarkDispatch(b *testing.B) {
	d := gpu(b)
	k, err := d.Kernel("nop")
	if err != nil {
		b.Fatal(err)
	}
	dm := conformance.Memory(b, d, device.Resident, 1<<20)
	m := dm.(*ResidentMemory).Memory
	one := Dim3{X: 1}
	b.Run("launch+sync", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := m.Launch(k, one, one, 0); err != nil {
				b.Fatal(err)
			}
			if err := m.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("launch", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := m.Launch(k, one, one, 0, uint64(i), int32(i), float32(i)); err != nil {
				b.Fatal(err)
			}
			if i++; i%256 == 0 {
				b.StopTimer()
				if err := m.Sync(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		}
		b.StopTimer()
		m.Sync()
	})
	b.Run("enter+leave", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := d.enter(); err != nil {
				b.Fatal(err)
			}
			d.leave()
		}
	})
	b.Run("lockosthread-only", func(b *testing.B) {
		for b.Loop() {
			runtime.LockOSThread()
			runtime.UnlockOSThread()
		}
	})
	b.Run("matmul16", func(b *testing.B) {
		b.ReportAllocs()
		s := uint64(16 * 16 * 4)
		for b.Loop() {
			if _, err := dm.MatMul(device.Span{Off: 0, Len: s}, device.Span{Off: s, Len: s}, device.Span{Off: 2 * s, Len: s}, 16, 16, 16); err != nil {
				b.Fatal(err)
			}
		}
	})
}
