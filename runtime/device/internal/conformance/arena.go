package conformance

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/internal/llmref"
	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// arena is one Memory of the backend under test with its spans laid out one
// after another. It moves data as a guest must: it waits for queued ops
// before rewriting their inputs (Sync), uploads what it wrote and
// downloads what it reads in resident mode.
type arena struct {
	t   *testing.T
	mem device.Memory
	ops device.LLMOps
	top uint64
	r   *rand.Rand
}

// Memory returns a new Memory of d in mode with all its size bytes in use,
// closed when the test ends: the start of a backend's test.
func Memory(t testing.TB, d device.Device, mode device.Mode, size uint64) device.Memory {
	t.Helper()
	mem, err := d.NewMemory(mode, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mem.Close(); err != nil {
			t.Errorf("close %s memory: %v", mode, err)
		}
	})
	if err := mem.Grow(size); err != nil {
		t.Fatal(err)
	}
	return mem
}

func newArena(t *testing.T, d device.LLMDevice, mode device.Mode, size uint64, seed uint64) *arena {
	t.Helper()
	mem := Memory(t, d, mode, size)
	ops, ok := mem.(device.LLMOps)
	if !ok {
		t.Fatalf("%T has no Llama kernels", mem)
	}
	return &arena{t: t, mem: mem, ops: ops, top: 256, r: rand.New(rand.NewPCG(seed, 7))}
}

// span reserves n bytes, 256-byte aligned, or 4 bytes past that with odd
// (kernels with vector loads take another path).
func (a *arena) span(n int, odd bool) device.Span {
	off := (a.top + 255) &^ 255
	if odd {
		off += 4
	}
	a.top = off + uint64(n)
	if a.top > a.mem.Size() {
		a.t.Fatalf("arena of %d bytes is full", a.mem.Size())
	}
	return device.Span{Off: off, Len: uint64(n)}
}

// f32s reserves a span of n float32s.
func (a *arena) f32s(n int, odd bool) device.Span { return a.span(4*n, odd) }

func (a *arena) sync() {
	a.t.Helper()
	if err := a.ops.Sync(); err != nil {
		a.t.Fatal(err)
	}
}

// write copies b into s after the queued ops ran.
func (a *arena) write(s device.Span, b []byte) {
	a.t.Helper()
	a.sync()
	copy(a.mem.Bytes()[s.Off:s.End()], b)
	if r, ok := a.mem.(device.Residenter); ok {
		if err := r.Upload(s); err != nil {
			a.t.Fatal(err)
		}
	}
}

// read returns a copy of s after the queued ops ran.
func (a *arena) read(s device.Span) []byte {
	a.t.Helper()
	a.sync()
	if r, ok := a.mem.(device.Residenter); ok {
		if err := r.Download(s); err != nil {
			a.t.Fatal(err)
		}
	}
	return append([]byte(nil), a.mem.Bytes()[s.Off:s.End()]...)
}

func (a *arena) writeF32(s device.Span, v []float32) { a.write(s, bytesOf(v)) }
func (a *arena) readF32(s device.Span) []float32     { return floatsOf(a.read(s)) }

// fill writes random floats in [-1, 1) to s and returns them.
func (a *arena) fill(s device.Span) []float32 {
	v := a.random(int(s.Len / 4))
	a.writeF32(s, v)
	return v
}

func (a *arena) random(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = a.r.Float32()*2 - 1
	}
	return v
}

// poison fills s with NaN, so an output the op does not write shows.
func (a *arena) poison(s device.Span) {
	v := make([]float32, s.Len/4)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	a.writeF32(s, v)
}

// check fails the test on err, naming what ran.
func (a *arena) check(what string, err error) {
	a.t.Helper()
	if err != nil {
		a.t.Fatalf("%s: %v", what, err)
	}
}

func bytesOf(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))...)
}

func floatsOf(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	if len(v) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(b)), b)
	}
	return v
}

// tensors is a set of weight tensors: as handed to the device, their values
// after rounding to their dtype, and as the device loaded them.
type tensors struct {
	ts   []device.WeightTensor
	vals [][]float32
	w    device.Weights
}

// tensorSpec is one random tensor: dtype, values in [-1, 1)·scale + bias, shape.
type tensorSpec struct {
	name        string
	dt          string
	scale, bias float32
	shape       []int
}

// load makes the tensors and loads them on d.
func load(t *testing.T, d device.LLMDevice, r *rand.Rand, specs []tensorSpec) *tensors {
	t.Helper()
	s := &tensors{}
	for _, sp := range specs {
		n := 1
		for _, x := range sp.shape {
			n *= x
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = (r.Float32()*2-1)*sp.scale + sp.bias
		}
		data, err := safetensors.FromFloat32(safetensors.DType(sp.dt), v)
		if err != nil {
			t.Fatal(err)
		}
		rounded, err := safetensors.ToFloat32(safetensors.DType(sp.dt), data)
		if err != nil {
			t.Fatal(err)
		}
		s.ts = append(s.ts, device.WeightTensor{Name: sp.name, DType: sp.dt, Shape: sp.shape, Data: data})
		s.vals = append(s.vals, rounded)
	}
	w, err := d.LoadWeights(s.ts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close weights: %v", err)
		}
	})
	s.w = w
	return s
}

// widenKV decodes a cache's bytes of dtype dt to float64 rows of width.
func widenKV(t *testing.T, b []byte, dt device.KVDType, width int) [][]float64 {
	t.Helper()
	f, err := safetensors.ToFloat32(safetensors.DType(dt.WeightDType()), b)
	if err != nil {
		t.Fatal(err)
	}
	return llmref.Rows(f, width)
}

// relNorm is ‖a − b‖ / ‖b‖ (‖a − b‖ if b is zero), and +Inf if a holds a NaN.
func relNorm(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		if math.IsNaN(float64(a[i])) {
			return math.Inf(1)
		}
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}
