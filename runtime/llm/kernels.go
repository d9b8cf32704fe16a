package llm

import "github.com/wasmgpu/wasmgpu/runtime/device"

// Buf is a byte range of the engine's memory: the guest's linear memory, or
// the device Memory a native engine runs in.
type Buf struct {
	Off, Len uint32
}

// Kernels are the Llama kernels as the engine calls them: device.LLMOps with
// uint32 offsets and no weights handle, because whoever implements Kernels
// binds the weights (the Wasm host binds them per guest). Shapes and
// conventions are those of device.LLMOps. A guest's implementation never
// returns an error — the host traps the guest instead.
type Kernels interface {
	Embed(table int, tokens, out Buf, n int) error
	RMSNorm(weight int, x, out Buf, n int, eps float32) error
	Linear(weight int, x, out Buf, n int) error
	RoPE(x, invFreq Buf, n, heads, headDim, pos int) error
	KVStore(src, cache Buf, dt device.KVDType, n, pos, width int) error
	Attention(q, kCache, vCache, out Buf, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error
	SwiGLU(gate, up, out Buf, count int) error
	Add(x, y Buf, count int) error
	Argmax(x, out Buf, n, width int) error
	Sync() error

	// The fused ops of device.FusedLLMOps.
	NormLinear(norm int, weights []int, x, xb Buf, outs []Buf, n int, eps float32) error
	NormGLU(norm, gate, up int, x, xb, tmp, out Buf, n int, eps float32) error
	LinearAdd(weight int, x, tmp, resid Buf, n int) error
	RoPEKV(q, k, v, invFreq, kCache, vCache Buf, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error
}

// Alloc returns a new zeroed buffer of size bytes, at least 8-byte aligned,
// that stays put for the engine's life: its range for kernels and a view of
// its bytes for the engine (tokens in, logits and argmax out, the state
// header). The guest allocates with make and uses the pointer as offset; a
// native engine bumps through its device Memory.
type Alloc func(size uint32) (Buf, []byte, error)
