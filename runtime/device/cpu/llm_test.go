package cpu

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// weightOf encodes vals as a [rows, cols] tensor of dtype dt.
func weightOf(t *testing.T, dt string, rows, cols int, vals []float32) device.WeightTensor {
	t.Helper()
	data, err := safetensors.FromFloat32(safetensors.DType(dt), vals)
	if err != nil {
		t.Fatal(err)
	}
	return device.WeightTensor{Name: "w", DType: dt, Shape: []int{rows, cols}, Data: data}
}

func randFloats(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// TestLinearMatchesFloat64 checks GEMV (n = 1) and GEMM (n > 1) for every
// weight dtype against a float64 product of the same (rounded) weights, with
// row counts that do not divide the pool's chunks. The bf16 GEMM rounds x to
// bfloat16 first, so it is held to internal/simd's bound for it: 2⁻⁸ (the
// rounding) plus the float32 sum's (cols+2)·2⁻²⁴, relative to Σ|w·x|.
func TestLinearMatchesFloat64(t *testing.T) {
	d, _ := Open()
	r := rand.New(rand.NewPCG(1, 2))
	for _, dt := range []string{"BF16", "F16", "F32"} {
		for _, shape := range [][3]int{{1, 7, 3}, {1, 4099, 33}, {5, 1031, 64}, {3, 4, 2048}} {
			n, rows, cols := shape[0], shape[1], shape[2]
			wt := weightOf(t, dt, rows, cols, randFloats(r, rows*cols))
			wv, _ := safetensors.ToFloat32(safetensors.DType(dt), wt.Data)
			w, err := d.LoadWeights([]device.WeightTensor{wt})
			if err != nil {
				t.Fatal(err)
			}
			for _, mode := range d.Modes() {
				mem, _ := d.NewMemory(mode, 16<<20)
				xb, ob := uint64(4*n*cols), uint64(4*n*rows)
				mem.Grow(xb + ob)
				f := unsafe.Slice((*float32)(unsafe.Pointer(&mem.Bytes()[0])), (xb+ob)/4)
				x, out := f[:n*cols], f[n*cols:]
				copy(x, randFloats(r, n*cols))
				ops := mem.(device.LLMOps)
				if err := ops.Linear(w, 0, device.Span{Off: 0, Len: xb}, device.Span{Off: xb, Len: ob}, n); err != nil {
					t.Fatal(err)
				}
				var worst float64
				for tk := range n {
					for o := range rows {
						var want, mag float64
						for i := range cols {
							p := float64(wv[o*cols+i]) * float64(x[tk*cols+i])
							want += p
							mag += math.Abs(p)
						}
						worst = max(worst, math.Abs(float64(out[tk*rows+o])-want)/(mag+1e-30))
					}
				}
				tol := 1e-5
				if dt == "BF16" && n > 1 {
					tol = 0x1p-8 + float64(cols+2)*0x1p-24*(1+0x1p-8)
				}
				if worst > tol {
					t.Errorf("%s %v %s: error %g relative to Σ|w·x|", dt, shape, mode, worst)
				}
				mem.Close()
			}
		}
	}
}

func TestLLMModesCost(t *testing.T) {
	d, _ := Open()
	w, err := d.LoadWeights([]device.WeightTensor{weightOf(t, "BF16", 8, 16, make([]float32, 128))})
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range d.Modes() {
		mem, _ := d.NewMemory(mode, 1<<20)
		mem.Grow(4096)
		if err := mem.(device.LLMOps).Linear(w, 0, device.Span{Off: 0, Len: 64}, device.Span{Off: 64, Len: 32}, 1); err != nil {
			t.Fatal(err)
		}
		st := mem.Stats()
		if mode == device.ZeroCopy && (st.StagingBytes != 0 || st.CopiedBytes != 0) {
			t.Errorf("zerocopy: %+v, want no staging", st)
		}
		if mode == device.Copy && (st.StagingBytes == 0 || st.CopiedBytes != 96) {
			t.Errorf("copy: %+v, want staging and 96 bytes copied", st)
		}
		if st.KernelsLaunch != 1 {
			t.Errorf("%s: %d kernels counted", mode, st.KernelsLaunch)
		}
		mem.Close()
	}
}

func TestLLMRejects(t *testing.T) {
	d, _ := Open()
	good := weightOf(t, "BF16", 4, 8, make([]float32, 32))
	for _, tc := range []struct {
		name string
		t    device.WeightTensor
		want string
	}{
		{"dtype", device.WeightTensor{Name: "i", DType: "I8", Shape: []int{4}, Data: make([]byte, 4)}, `dtype "I8"`},
		{"size", device.WeightTensor{Name: "s", DType: "F32", Shape: []int{4}, Data: make([]byte, 12)}, "holds 12 bytes, want 16"},
		{"shape", device.WeightTensor{Name: "z", DType: "F32", Shape: []int{0}, Data: nil}, "bad shape"},
		{"aligned", device.WeightTensor{Name: "a", DType: "F32", Shape: []int{1}, Data: make([]byte, 8)[1:5]}, "not 4-byte aligned"},
	} {
		if _, err := d.LoadWeights([]device.WeightTensor{good, tc.t}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	w, _ := d.LoadWeights([]device.WeightTensor{good})
	mem, _ := d.NewMemory(device.ZeroCopy, 1<<20)
	defer mem.Close()
	mem.Grow(4096)
	ops := mem.(device.LLMOps)
	binaryPut := func(off int, v int32) { *(*int32)(unsafe.Pointer(&mem.Bytes()[off])) = v }
	binaryPut(0, 4)
	if err := ops.Embed(w, 0, device.Span{Off: 0, Len: 4}, device.Span{Off: 64, Len: 32}, 1); err == nil || !strings.Contains(err.Error(), "token 4 at row 0 is outside the table's 4 rows") {
		t.Errorf("embed of token 4: %v", err)
	}
	binaryPut(0, -1)
	if err := ops.Embed(w, 0, device.Span{Off: 0, Len: 4}, device.Span{Off: 64, Len: 32}, 1); err == nil {
		t.Error("embed of token -1 accepted")
	}
	w.Close()
	if err := ops.Linear(w, 0, device.Span{Off: 0, Len: 32}, device.Span{Off: 64, Len: 16}, 1); err == nil || !strings.Contains(err.Error(), "no weight tensor 0") {
		t.Errorf("linear with closed weights: %v", err)
	}
}
