//go:build wasip1

package main

// The Llama engine inside the guest. The guest owns the conversation — token
// ids, position, KV cache, activations — in its linear memory, runs the token
// loop (runtime/llm), and calls the host for every kernel with offsets into
// that memory; the host runs the kernels on its device with the weights it
// bound to this guest.
//
// Exports return int32 status: ≥ 0 is success (a token, a count), -1 an error
// whose message llm_err_ptr/llm_err_len point at. A kernel the host refuses
// traps the guest instead.

import (
	"math"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

//go:wasmimport wasmgpu llm_embed
func hostLLMEmbed(table, tok, tokLen, out, outLen, n uint32)

//go:wasmimport wasmgpu llm_rmsnorm
func hostLLMRMSNorm(weight, x, xLen, out, outLen, n uint32, eps float32)

//go:wasmimport wasmgpu llm_linear
func hostLLMLinear(weight, x, xLen, out, outLen, n uint32)

//go:wasmimport wasmgpu llm_rope
func hostLLMRoPE(x, xLen, f, fLen, n, heads, headDim, pos uint32)

//go:wasmimport wasmgpu llm_kvstore
func hostLLMKVStore(src, srcLen, cache, cacheLen, dt, n, pos, width uint32)

//go:wasmimport wasmgpu llm_attention
func hostLLMAttention(q, qLen, k, kLen, v, vLen, out, outLen, dt, n, pos, heads, kvHeads, headDim uint32)

//go:wasmimport wasmgpu llm_swiglu
func hostLLMSwiGLU(gate, gateLen, up, upLen, out, outLen, count uint32)

//go:wasmimport wasmgpu llm_add
func hostLLMAdd(x, xLen, y, yLen, count uint32)

//go:wasmimport wasmgpu llm_argmax
func hostLLMArgmax(x, xLen, out, outLen, n, width uint32)

//go:wasmimport wasmgpu llm_sync
func hostLLMSync()

//go:wasmimport wasmgpu llm_norm_linear
func hostLLMNormLinear(norm, count, w0, w1, w2, x, xLen, xb, xbLen, o0, o0Len, o1, o1Len, o2, o2Len, n uint32, eps float32)

//go:wasmimport wasmgpu llm_norm_glu
func hostLLMNormGLU(norm, gate, up, x, xLen, xb, xbLen, tmp, tmpLen, out, outLen, n uint32, eps float32)

//go:wasmimport wasmgpu llm_linear_add
func hostLLMLinearAdd(weight, x, xLen, tmp, tmpLen, resid, residLen, n uint32)

//go:wasmimport wasmgpu llm_rope_kv
func hostLLMRoPEKV(q, qLen, k, kLen, v, vLen, f, fLen, kc, kcLen, vc, vcLen, dt, n, pos, heads, kvHeads, headDim uint32)

// kvCodes are the ABI's KV dtype codes.
var kvCodes = []device.KVDType{device.KVF32, device.KVBF16, device.KVF16}

func kvCode(dt device.KVDType) uint32 {
	for i, k := range kvCodes {
		if k == dt {
			return uint32(i)
		}
	}
	return 0xff
}

// hostKernels are llm.Kernels that call the host ABI. They never fail: the
// host traps the guest on a bad call.
type hostKernels struct{}

func (hostKernels) Embed(table int, tokens, out llm.Buf, n int) error {
	hostLLMEmbed(uint32(table), tokens.Off, tokens.Len, out.Off, out.Len, uint32(n))
	return nil
}

func (hostKernels) RMSNorm(weight int, x, out llm.Buf, n int, eps float32) error {
	hostLLMRMSNorm(uint32(weight), x.Off, x.Len, out.Off, out.Len, uint32(n), eps)
	return nil
}

func (hostKernels) Linear(weight int, x, out llm.Buf, n int) error {
	hostLLMLinear(uint32(weight), x.Off, x.Len, out.Off, out.Len, uint32(n))
	return nil
}

func (hostKernels) RoPE(x, invFreq llm.Buf, n, heads, headDim, pos int) error {
	hostLLMRoPE(x.Off, x.Len, invFreq.Off, invFreq.Len, uint32(n), uint32(heads), uint32(headDim), uint32(pos))
	return nil
}

func (hostKernels) KVStore(src, cache llm.Buf, dt device.KVDType, n, pos, width int) error {
	hostLLMKVStore(src.Off, src.Len, cache.Off, cache.Len, kvCode(dt), uint32(n), uint32(pos), uint32(width))
	return nil
}

func (hostKernels) Attention(q, k, v, out llm.Buf, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	hostLLMAttention(q.Off, q.Len, k.Off, k.Len, v.Off, v.Len, out.Off, out.Len, kvCode(dt),
		uint32(n), uint32(pos), uint32(heads), uint32(kvHeads), uint32(headDim))
	return nil
}

func (hostKernels) SwiGLU(gate, up, out llm.Buf, count int) error {
	hostLLMSwiGLU(gate.Off, gate.Len, up.Off, up.Len, out.Off, out.Len, uint32(count))
	return nil
}

func (hostKernels) Add(x, y llm.Buf, count int) error {
	hostLLMAdd(x.Off, x.Len, y.Off, y.Len, uint32(count))
	return nil
}

func (hostKernels) Argmax(x, out llm.Buf, n, width int) error {
	hostLLMArgmax(x.Off, x.Len, out.Off, out.Len, uint32(n), uint32(width))
	return nil
}

func (hostKernels) Sync() error {
	hostLLMSync()
	return nil
}

func (hostKernels) NormLinear(norm int, weights []int, x, xb llm.Buf, outs []llm.Buf, n int, eps float32) error {
	var w [device.NormLinearMax]uint32
	var o [device.NormLinearMax]llm.Buf
	for i := range min(len(weights), len(w)) {
		w[i] = uint32(weights[i])
	}
	copy(o[:], outs)
	hostLLMNormLinear(uint32(norm), uint32(len(weights)), w[0], w[1], w[2], x.Off, x.Len, xb.Off, xb.Len,
		o[0].Off, o[0].Len, o[1].Off, o[1].Len, o[2].Off, o[2].Len, uint32(n), eps)
	return nil
}

func (hostKernels) NormGLU(norm, gate, up int, x, xb, tmp, out llm.Buf, n int, eps float32) error {
	hostLLMNormGLU(uint32(norm), uint32(gate), uint32(up), x.Off, x.Len, xb.Off, xb.Len, tmp.Off, tmp.Len, out.Off, out.Len, uint32(n), eps)
	return nil
}

func (hostKernels) LinearAdd(weight int, x, tmp, resid llm.Buf, n int) error {
	hostLLMLinearAdd(uint32(weight), x.Off, x.Len, tmp.Off, tmp.Len, resid.Off, resid.Len, uint32(n))
	return nil
}

func (hostKernels) RoPEKV(q, k, v, invFreq, kCache, vCache llm.Buf, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	hostLLMRoPEKV(q.Off, q.Len, k.Off, k.Len, v.Off, v.Len, invFreq.Off, invFreq.Len, kCache.Off, kCache.Len, vCache.Off, vCache.Len,
		kvCode(dt), uint32(n), uint32(pos), uint32(heads), uint32(kvHeads), uint32(headDim))
	return nil
}

// The guest's engine and everything it allocated (kept reachable here:
// the engine itself holds only offsets of most buffers).
var (
	engine    *llm.Engine
	llmBufs   [][]uint64
	llmTokens []int32 // llm_tokens_buf's reusable input buffer
	llmErr    []byte
)

// llmAlloc is the engine's allocator: make, and the pointer is the offset.
func llmAlloc(size uint32) (llm.Buf, []byte, error) {
	b := make([]uint64, (uint64(size)+7)/8)
	llmBufs = append(llmBufs, b)
	view := unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), size)
	return llm.Buf{Off: ptr(&b[0]), Len: size}, view, nil
}

// fail records err for llm_err_ptr and returns -1.
func fail(err error) int32 {
	llmErr = []byte(err.Error())
	return -1
}

var errNoEngine = errorString("llm: not initialized (call llm_init)")

type errorString string

func (e errorString) Error() string { return string(e) }

// llm_init parses the Hugging Face config.json at [cfgPtr, +cfgLen) and
// makes the engine: KV dtype code kv (0 f32, 1 bf16, 2 f16), context maxSeq
// (0: default) and tokens per pass maxBatch (0: default). It returns 0 or -1.
//
//go:wasmexport llm_init
func llmInit(cfgPtr, cfgLen, kv, maxSeq, maxBatch uint32) int32 {
	engine, llmBufs = nil, nil
	cfg, err := models.ParseConfig(unsafe.Slice((*byte)(at(cfgPtr)), cfgLen))
	if err != nil {
		return fail(err)
	}
	if kv >= uint32(len(kvCodes)) {
		return fail(errorString("llm_init: unknown KV dtype code"))
	}
	e, err := llm.New(cfg, hostKernels{}, llmAlloc, llm.Options{KV: kvCodes[kv], MaxSeq: int(maxSeq), MaxBatch: int(maxBatch)})
	if err != nil {
		return fail(err)
	}
	engine = e
	return 0
}

// llm_err_ptr is the offset of the last error message.
//
//go:wasmexport llm_err_ptr
func llmErrPtr() uint32 {
	if len(llmErr) == 0 {
		return 0
	}
	return ptr(&llmErr[0])
}

// llm_err_len is the length of the last error message.
//
//go:wasmexport llm_err_len
func llmErrLen() uint32 { return uint32(len(llmErr)) }

// llm_tokens_buf returns the offset of a guest buffer of at least n int32
// token ids, reused across calls, for the host to write a prompt into.
//
//go:wasmexport llm_tokens_buf
func llmTokensBuf(n uint32) uint32 {
	if n == 0 {
		n = 1
	}
	if uint32(cap(llmTokens)) < n {
		llmTokens = make([]int32, n)
	}
	return ptr(&llmTokens[:1][0])
}

// tokensAt views n int32s at guest offset p.
func tokensAt(p, n uint32) []int32 {
	return unsafe.Slice((*int32)(at(p)), n)
}

// at is the address of guest offset p: linear memory starts at address 0.
func at(p uint32) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(nil), p) }

// llm_forward processes the n tokens at tokPtr and leaves logits for the
// last (all = 0) or every token (all = 1); it returns 0 or -1.
//
//go:wasmexport llm_forward
func llmForward(tokPtr, n, all uint32) int32 {
	if engine == nil {
		return fail(errNoEngine)
	}
	if err := engine.Forward(tokensAt(tokPtr, n), all != 0); err != nil {
		return fail(err)
	}
	return 0
}

// llm_prefill processes the n tokens at tokPtr and returns the next token.
//
//go:wasmexport llm_prefill
func llmPrefill(tokPtr, n uint32) int32 {
	if engine == nil {
		return fail(errNoEngine)
	}
	t, err := engine.Prefill(tokensAt(tokPtr, n))
	if err != nil {
		return fail(err)
	}
	return t
}

// llm_decode processes one token and returns the next.
//
//go:wasmexport llm_decode
func llmDecode(token uint32) int32 {
	if engine == nil {
		return fail(errNoEngine)
	}
	t, err := engine.Decode(int32(token))
	if err != nil {
		return fail(err)
	}
	return t
}

// llm_generate decodes n tokens from the last prediction and returns the
// last one; the tokens are in the state region's token ids.
//
//go:wasmexport llm_generate
func llmGenerate(n uint32) int32 {
	if engine == nil {
		return fail(errNoEngine)
	}
	ts, err := engine.Generate(int(n))
	if err != nil {
		return fail(err)
	}
	if len(ts) == 0 {
		return engine.Next()
	}
	return ts[len(ts)-1]
}

// llm_sampling sets temperature (0: greedy), top-p and the seed; 0 or -1.
//
//go:wasmexport llm_sampling
func llmSampling(temperature, topP float32, seed uint64) int32 {
	if engine == nil {
		return fail(errNoEngine)
	}
	if err := engine.SetSampling(temperature, topP, seed); err != nil {
		return fail(err)
	}
	return 0
}

// llm_logits_ptr is the offset of the last pass's logits (f32 rows of vocab).
//
//go:wasmexport llm_logits_ptr
func llmLogitsPtr() uint32 {
	if engine == nil {
		return 0
	}
	return engine.LogitsBuf().Off
}

// llm_logits_len is the byte length of the logits the last pass wrote.
//
//go:wasmexport llm_logits_len
func llmLogitsLen() uint32 {
	if engine == nil {
		return 0
	}
	return uint32(4 * len(engine.Logits()))
}

// llm_state_ptr is the offset of the state region (header, tokens, KV cache).
//
//go:wasmexport llm_state_ptr
func llmStatePtr() uint32 {
	if engine == nil {
		return 0
	}
	return engine.State().Off
}

// llm_state_len is the state region's length in bytes.
//
//go:wasmexport llm_state_len
func llmStateLen() uint32 {
	if engine == nil {
		return 0
	}
	return engine.State().Len
}

// llm_pos is the number of tokens processed.
//
//go:wasmexport llm_pos
func llmPos() int32 {
	if engine == nil {
		return fail(errNoEngine)
	}
	return int32(engine.Pos())
}

// llm_next is the last predicted token, or -1.
//
//go:wasmexport llm_next
func llmNext() int32 {
	if engine == nil {
		return fail(errNoEngine)
	}
	return engine.Next()
}

// llm_reset forgets the conversation (position 0).
//
//go:wasmexport llm_reset
func llmReset() {
	if engine != nil {
		engine.Reset()
	}
}

// llm_resume reads position and next token from the state region after the
// host restored its bytes; it returns the position or -1.
//
//go:wasmexport llm_resume
func llmResume() int32 {
	if engine == nil {
		return fail(errNoEngine)
	}
	if err := engine.Resume(); err != nil {
		return fail(err)
	}
	return int32(engine.Pos())
}

// rawArgs holds llm_raw's arguments: an export may take at most 16
// parameters (more crash Go 1.26's wasm compiler), and rope_kv needs 18.
var rawArgs [18]uint32

// llm_raw_args is the address of the 18 uint32 arguments llm_raw passes.
//
//go:wasmexport llm_raw_args
func llmRawArgs() uint32 { return uint32(uintptr(unsafe.Pointer(&rawArgs))) }

// llm_raw calls host LLM function op (0 embed, 1 rmsnorm, 2 linear, 3 rope,
// 4 kvstore, 5 attention, 6 swiglu, 7 add, 8 argmax, 9 norm_linear,
// 10 norm_glu, 11 linear_add, 12 rope_kv) with the raw arguments the host
// wrote at llm_raw_args: tests use it to play a hostile guest. rmsnorm,
// norm_linear and norm_glu take eps as the bits of the first argument.
//
//go:wasmexport llm_raw
func llmRaw(op uint32) {
	a, b, c, d, e, f, g, h, i := rawArgs[0], rawArgs[1], rawArgs[2], rawArgs[3], rawArgs[4], rawArgs[5], rawArgs[6], rawArgs[7], rawArgs[8]
	j, k, l, m, n, o, p, q, r := rawArgs[9], rawArgs[10], rawArgs[11], rawArgs[12], rawArgs[13], rawArgs[14], rawArgs[15], rawArgs[16], rawArgs[17]
	switch op {
	case 0:
		hostLLMEmbed(a, b, c, d, e, f)
	case 1:
		hostLLMRMSNorm(b, c, d, e, f, g, math.Float32frombits(a))
	case 2:
		hostLLMLinear(a, b, c, d, e, f)
	case 3:
		hostLLMRoPE(a, b, c, d, e, f, g, h)
	case 4:
		hostLLMKVStore(a, b, c, d, e, f, g, h)
	case 5:
		hostLLMAttention(a, b, c, d, e, f, g, h, i, j, k, l, m, n)
	case 6:
		hostLLMSwiGLU(a, b, c, d, e, f, g)
	case 7:
		hostLLMAdd(a, b, c, d, e)
	case 8:
		hostLLMArgmax(a, b, c, d, e, f)
	case 9:
		hostLLMNormLinear(b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, math.Float32frombits(a))
	case 10:
		hostLLMNormGLU(b, c, d, e, f, g, h, i, j, k, l, m, math.Float32frombits(a))
	case 11:
		hostLLMLinearAdd(a, b, c, d, e, f, g, h)
	case 12:
		hostLLMRoPEKV(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r)
	}
}

// bench_llm_add makes iters calls of the host's llm_add on [x, +4·count) and
// [y, +4·count): the price of one kernel dispatch from the guest, bounds
// checks included, for benchmarks.
//
//go:wasmexport bench_llm_add
func benchLLMAdd(iters, x, y, count uint32) {
	for i := uint32(0); i < iters; i++ {
		hostLLMAdd(x, 4*count, y, 4*count, count)
	}
}
