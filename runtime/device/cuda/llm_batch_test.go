package cuda

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// TestBatchRowCopies: a batch of managed memories runs its row-wise calls
// with the batch memory's device copies (no row copied on the host) and
// gives each member what its calls give alone, up to the GEMM's bf16
// rounding of the activations; members of another mode are copied on the
// host, with the same results. Needs a GPU.
func TestBatchRowCopies(t *testing.T) {
	d := gpu(t)
	const dim, out, members = 64, 48, 3
	r := rand.New(rand.NewPCG(5, 6))
	tensor := func(dt string, shape ...int) device.WeightTensor {
		n := 1
		for _, s := range shape {
			n *= s
		}
		t := device.WeightTensor{DType: dt, Shape: shape}
		if dt == "BF16" {
			t.Data = make([]byte, 2*n)
			for i := range n {
				binary.LittleEndian.PutUint16(t.Data[2*i:], uint16(math.Float32bits(float32(r.NormFloat64()*0.1))>>16))
			}
		} else {
			t.Data = make([]byte, 4*n)
			for i := range n {
				binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(float32(1+r.NormFloat64()*0.1)))
			}
		}
		return t
	}
	norm, proj := tensor("F32", dim), tensor("BF16", out, dim)
	norm.Name, proj.Name = "norm", "proj"
	w, err := d.LoadWeights([]device.WeightTensor{norm, proj})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	x := device.Span{Off: 0, Len: 4 * dim}
	y := device.Span{Off: 1 << 16, Len: 4 * out}
	calls := []llmabi.Call{llmabi.RMSNorm(0, x, x, 1, 1e-5), llmabi.Linear(1, x, y, 1), llmabi.Sync()}
	const size = 1 << 20
	inputs := make([][]float32, members)
	for k := range inputs {
		inputs[k] = make([]float32, dim)
		for i := range inputs[k] {
			inputs[k][i] = float32(r.NormFloat64())
		}
	}
	fresh := func(mode device.Mode, k int) device.Memory {
		m, err := d.NewMemory(mode, size)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Grow(size); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		copy(f32(m.Bytes(), x.Off, dim), inputs[k])
		return m
	}
	want := make([][]float32, members)
	for k := range want {
		m := fresh(device.Managed, k)
		for i := range calls {
			if err := llmabi.Dispatch(m.(device.LLMOps), w, &calls[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Sync(); err != nil {
			t.Fatal(err)
		}
		want[k] = append([]float32(nil), f32(m.Bytes(), y.Off, out)...)
	}
	for _, mode := range []device.Mode{device.Managed, device.Mapped} {
		scratch := fresh(device.Managed, 0)
		b, err := llmabi.NewBatch(scratch, w)
		if err != nil {
			t.Fatal(err)
		}
		ms := make([]llmabi.Member, members)
		for k := range ms {
			ms[k] = llmabi.Member{Mem: fresh(mode, k), Calls: append([]llmabi.Call(nil), calls...)}
		}
		errs := make([]error, members)
		b.Run(ms, errs)
		for k, m := range ms {
			if errs[k] != nil {
				t.Fatalf("%s member %d: %v", mode, k, errs[k])
			}
			got := f32(m.Mem.Bytes(), y.Off, out)
			for i := range got {
				if math.Abs(float64(got[i]-want[k][i])) > 1e-2*(1+math.Abs(float64(want[k][i]))) {
					t.Fatalf("%s member %d: y[%d] = %g, alone %g", mode, k, i, got[i], want[k][i])
				}
			}
		}
		st := b.Stats()
		onHost := mode != device.Managed
		if st.RowCalls != 2 || (st.HostCopies != 0) != onHost {
			t.Errorf("%s: stats %+v: want 2 batched row-wise calls, copied on the host: %v", mode, st, onHost)
		}
	}
}
