package cuda

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/models/reference"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/conformance"
)

// TestConformance runs the backends' conformance suite on the GPU in every
// mode. Tolerances: bf16 prefill GEMMs round x to bf16 once on tensor cores
// (2⁻⁹ per product, so 2⁻⁸·Σ|w·x| bounds a linear output and the engine's
// f32-cache logits are held to the bf16 cache's tolerance; with
// WASMGPU_CUDA_PREFILL_GEMM=bf16x2, x split into hi+lo, ≈2⁻¹⁷), the fused
// decode GEMVs sum in another order than the kernels they replace, the
// tensor-core prefill attention accumulates in the tensor cores' float32
// (not IEEE round-to-nearest), and the transcendental functions are the
// GPU's.
func TestConformance(t *testing.T) {
	d := gpu(t)
	tol := conformance.Tolerances{Elementwise: 4e-6, Linear: 1e-4, Fused: 1e-4, Attention: 3e-5, Prefill: 1.0 / 256, EngineF32KV: reference.TolBF16KV}
	conformance.Run(t, conformance.Backend{Device: d, Modes: d.Modes(), RefusesForeignWeights: true, Tol: tol})
}

// TestLLMManagedArgmaxFeedsEmbed checks managed mode's host-side argmax
// (llm_managed.go): indices an op reads before Sync (Embed taking Argmax's
// out as its ids) are there, two Argmaxes into one span before Sync leave
// the second's, and Sync lands every pending index; and that prefetching
// works where it is on.
func TestLLMManagedArgmaxFeedsEmbed(t *testing.T) {
	d := gpu(t)
	hostio0, prefetch0 := managedHostIO, managedPrefetch
	managedHostIO, managedPrefetch = true, true // prefetching is off by default: exercise it here
	defer func() { managedHostIO, managedPrefetch = hostio0, prefetch0 }()
	r := rand.New(rand.NewPCG(9, 9))
	const vocab, dim = 50, 64
	table := make([]float32, vocab*dim)
	for i := range table {
		table[i] = r.Float32()*2 - 1
	}
	data, err := models.FromFloat32(models.F32, table)
	if err != nil {
		t.Fatal(err)
	}
	ts := []device.WeightTensor{{Name: "embed", DType: "F32", Shape: []int{vocab, dim}, Data: data}}
	w, err := d.LoadWeights(ts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	dm := conformance.Memory(t, d, device.Managed, 4<<20)
	b := dm.Bytes()
	x := device.Span{Off: 0, Len: 2 * vocab * 4}
	v := f32(b, x.Off, 2*vocab)
	for i := range v {
		v[i] = -float32(i%vocab) / 100
	}
	v[17], v[vocab+42] = 3, 4
	y := device.Span{Off: 1024, Len: 2 * vocab * 4}
	copy(f32(b, y.Off, 2*vocab), v)
	f32(b, y.Off, 2*vocab)[5] = 9
	out, out2 := device.Span{Off: 1 << 20, Len: 8}, device.Span{Off: 2 << 20, Len: 8}
	emb := device.Span{Off: 3 << 20, Len: 2 * dim * 4}
	for _, s := range []device.Span{out, out2} {
		copy(b[s.Off:s.End()], []byte{0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f})
	}
	ops := dm.(device.LLMOps)
	for _, err := range []error{
		ops.Argmax(x, out, 2, vocab),
		ops.Embed(w, 0, out, emb, 2), // reads out before any Sync
		ops.Argmax(y, out2, 2, vocab),
		ops.Argmax(x, out2, 2, vocab), // overwrites out2 in stream order
		dm.Sync(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := prefetchErr(asMemory(dm)); err != nil {
		t.Errorf("prefetch: %v", err)
	}
	ints := func(s device.Span) []int32 { return unsafe.Slice((*int32)(unsafe.Pointer(&b[s.Off])), 2) }
	if got := ints(out); got[0] != 17 || got[1] != 42 {
		t.Errorf("argmax: %v, want [17 42]", got)
	}
	if got := ints(out2); got[0] != 17 || got[1] != 42 {
		t.Errorf("second argmax into one span: %v, want [17 42]", got)
	}
	table = unsafe.Slice((*float32)(unsafe.Pointer(&ts[0].Data[0])), vocab*dim) // the bytes loaded
	rows := f32(b, emb.Off, 2*dim)
	for i, id := range []int{17, 42} {
		for j := range dim {
			if rows[i*dim+j] != table[id*dim+j] {
				t.Fatalf("embed row %d (token %d) element %d: %v, want %v", i, id, j, rows[i*dim+j], table[id*dim+j])
			}
		}
	}
}
