package device

// This file is the contract between the Llama engine (runtime/llm, which runs
// inside the guest or natively on the host) and the backends' kernels. The
// engine owns activations and the KV cache, at offsets in a Memory; weights
// are host resources loaded once per device, read-only, referenced by tensor
// id, and shared by every guest that runs the model.
//
// Conventions for every op:
//   - activations are float32, row-major, one row per token: [n, width];
//   - weights follow Hugging Face: a projection W is [out, in] and
//     Linear computes out[t, o] = Σ_i x[t, i]·W[o, i];
//   - a KV cache is [maxSeq, kvHeads·headDim] per layer and per K and V,
//     in the KVDType the engine chose, written by KVStore and read by Attention;
//   - ops are queued in order on the Memory and may run asynchronously; Sync
//     waits for them. The engine reads results (Argmax) only after Sync.
//   - an op checks its spans against the Memory's size and its shapes against
//     the weights (CheckLLM helpers) and returns an error; it never touches
//     memory outside the spans.

// WeightTensor is one read-only weight tensor handed to a device.
type WeightTensor struct {
	Name  string
	DType string // "BF16", "F16" or "F32"
	Shape []int  // row-major
	Data  []byte // little-endian; the device may keep a reference (no copy) until Weights.Close
}

// Weights is a model's tensors resident on (or mapped for) one device.
type Weights interface {
	// Tensor returns the shape and dtype of tensor id, or false if there is none.
	Tensor(id int) (WeightTensor, bool)
	// DeviceBytes is the device memory the weights occupy (0 if they stay in host memory).
	DeviceBytes() uint64
	// Close releases them. Memories using them must not run ops afterwards.
	Close() error
}

// KVDType is the element type of a KV cache.
type KVDType string

// The KV cache element types.
const (
	KVF32  KVDType = "f32"
	KVBF16 KVDType = "bf16"
	KVF16  KVDType = "f16"
)

// Size is the element size in bytes (0 for an unknown type).
func (k KVDType) Size() int {
	switch k {
	case KVF32:
		return 4
	case KVBF16, KVF16:
		return 2
	}
	return 0
}

// LLMDevice is a Device that can run the Llama kernels.
type LLMDevice interface {
	Device
	// LoadWeights makes tensors available to kernels; tensor id i is ts[i].
	LoadWeights(ts []WeightTensor) (Weights, error)
}

// LLMOps are the Llama kernels. Memories of an LLMDevice implement it.
// The fused ops (llm_fused.go) are defined by sequences of the basic ones.
type LLMOps interface {
	FusedLLMOps
	// Embed writes rows tokens[t] of the embedding table (tensor table,
	// [vocab, dim]) to out (f32 [n, dim]); tokens is int32 [n].
	Embed(w Weights, table int, tokens, out Span, n int) error
	// RMSNorm writes x·rsqrt(mean(x²)+eps)·weight to out, row by row;
	// x and out are f32 [n, dim], dim the length of tensor weight; out may equal x.
	RMSNorm(w Weights, weight int, x, out Span, n int, eps float32) error
	// Linear writes out = x·Wᵀ: x f32 [n, in], W tensor weight [outDim, in],
	// out f32 [n, outDim]. n = 1 is decode (GEMV); n > 1 is prefill (GEMM).
	Linear(w Weights, weight int, x, out Span, n int) error
	// RoPE rotates x (f32 [n, heads, headDim]) in place for positions
	// pos..pos+n-1 with Hugging Face's rotate-half pairing (i, i+headDim/2)
	// and the inverse frequencies invFreq (f32 [headDim/2]; the engine
	// applies any frequency scaling, such as llama3's, when it fills them).
	RoPE(x, invFreq Span, n, heads, headDim, pos int) error
	// KVStore converts src (f32 [n, width]) to the cache's dtype and writes it
	// to rows pos..pos+n-1 of cache ([maxSeq, width]).
	KVStore(src, cache Span, dt KVDType, n, pos, width int) error
	// Attention computes causal grouped-query attention for n query tokens at
	// positions pos..pos+n-1 (q f32 [n, heads, headDim]) over cache rows
	// 0..pos+n-1 (kCache, vCache [maxSeq, kvHeads·headDim] of dtype dt), with
	// scale 1/sqrt(headDim); query head h reads KV head h/(heads/kvHeads).
	// out is f32 [n, heads, headDim].
	Attention(q, kCache, vCache, out Span, dt KVDType, n, pos, heads, kvHeads, headDim int) error
	// SwiGLU writes out = silu(gate)·up elementwise over count f32 values; out may equal gate.
	SwiGLU(gate, up, out Span, count int) error
	// Add does x += y over count f32 values.
	Add(x, y Span, count int) error
	// Argmax writes, for each of n rows of x (f32 [n, width]), the index of
	// its largest value (first on ties) to out (int32 [n]), or -1 for a row
	// that holds NaN or ±inf (the engine reports those logits as an error).
	Argmax(x, out Span, n, width int) error
	// Sync waits for every queued op.
	Sync() error
}
