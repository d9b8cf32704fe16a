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
	"unsafe"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// hostKernels are llm.Kernels that call the host ABI: one import per op,
// declared with Run in llm_gen.go (generated from the op table).
type hostKernels struct{}

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
// makes the engine: KV dtype code kv (device.KVDTypes), context maxSeq
// (0: default) and tokens per pass maxBatch (0: default). It returns 0 or -1.
//
//go:wasmexport llm_init
func llmInit(cfgPtr, cfgLen, kv, maxSeq, maxBatch uint32) int32 {
	engine, llmBufs = nil, nil
	cfg, err := models.ParseConfig(unsafe.Slice((*byte)(at(cfgPtr)), cfgLen))
	if err != nil {
		return fail(err)
	}
	dt, ok := device.KVDTypeOf(kv)
	if !ok {
		return fail(errorString("llm_init: unknown KV dtype code"))
	}
	e, err := llm.New(cfg, hostKernels{}, llmAlloc, llm.Options{KV: dt, MaxSeq: int(maxSeq), MaxBatch: int(maxBatch)})
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

// status runs f on the engine and returns its result, or -1 with the
// error recorded (fail) when it fails or there is no engine.
func status(f func(e *llm.Engine) (int32, error)) int32 {
	if engine == nil {
		return fail(errNoEngine)
	}
	v, err := f(engine)
	if err != nil {
		return fail(err)
	}
	return v
}

// region returns f of the engine, an offset or a length for the host to
// read, or 0 when there is no engine.
func region(f func(e *llm.Engine) uint32) uint32 {
	if engine == nil {
		return 0
	}
	return f(engine)
}

// llm_forward processes the n tokens at tokPtr and leaves logits for the
// last (all = 0) or every token (all = 1); it returns 0 or -1.
//
//go:wasmexport llm_forward
func llmForward(tokPtr, n, all uint32) int32 {
	return status(func(e *llm.Engine) (int32, error) { return 0, e.Forward(tokensAt(tokPtr, n), all != 0) })
}

// llm_prefill processes the n tokens at tokPtr and returns the next token.
//
//go:wasmexport llm_prefill
func llmPrefill(tokPtr, n uint32) int32 {
	return status(func(e *llm.Engine) (int32, error) { return e.Prefill(tokensAt(tokPtr, n)) })
}

// llm_decode processes one token and returns the next.
//
//go:wasmexport llm_decode
func llmDecode(token uint32) int32 {
	return status(func(e *llm.Engine) (int32, error) { return e.Decode(int32(token)) })
}

// llm_generate decodes n tokens from the last prediction and returns the
// last one; the tokens are in the state region's token ids.
//
//go:wasmexport llm_generate
func llmGenerate(n uint32) int32 {
	return status(func(e *llm.Engine) (int32, error) {
		ts, err := e.Generate(int(n))
		if len(ts) == 0 || err != nil {
			return e.Next(), err
		}
		return ts[len(ts)-1], nil
	})
}

// llm_sampling sets temperature (0: greedy), top-p and the seed; 0 or -1.
//
//go:wasmexport llm_sampling
func llmSampling(temperature, topP float32, seed uint64) int32 {
	return status(func(e *llm.Engine) (int32, error) { return 0, e.SetSampling(temperature, topP, seed) })
}

// llm_logits_ptr is the offset of the last pass's logits (f32 rows of vocab).
//
//go:wasmexport llm_logits_ptr
func llmLogitsPtr() uint32 { return region(func(e *llm.Engine) uint32 { return e.LogitsBuf().Off }) }

// llm_logits_len is the byte length of the logits the last pass wrote.
//
//go:wasmexport llm_logits_len
func llmLogitsLen() uint32 {
	return region(func(e *llm.Engine) uint32 { return uint32(4 * len(e.Logits())) })
}

// llm_state_ptr is the offset of the state region (header, tokens, KV cache).
//
//go:wasmexport llm_state_ptr
func llmStatePtr() uint32 { return region(func(e *llm.Engine) uint32 { return e.State().Off }) }

// llm_state_len is the state region's length in bytes.
//
//go:wasmexport llm_state_len
func llmStateLen() uint32 { return region(func(e *llm.Engine) uint32 { return e.State().Len }) }

// llmBufTable holds the engine's buffers for llm_buffers_ptr: (offset,
// length) uint32 pairs, the KV caches first (llm.Engine.Buffers).
var llmBufTable []uint32

// llm_buffers_ptr is the offset of a table of the engine's buffers as
// (offset, length) uint32 pairs: the KV caches first, then the buffers only
// the device's kernels touch (llm.Engine.Buffers), for the host to place
// their pages before first use.
//
//go:wasmexport llm_buffers_ptr
func llmBuffersPtr() uint32 {
	return region(func(e *llm.Engine) uint32 {
		b := e.Buffers()
		llmBufTable = append(llmBufTable[:0], b.KV.Off, b.KV.Len)
		for _, d := range b.Device {
			llmBufTable = append(llmBufTable, d.Off, d.Len)
		}
		return ptr(&llmBufTable[0])
	})
}

// llm_buffers_len is the byte length of llm_buffers_ptr's table.
//
//go:wasmexport llm_buffers_len
func llmBuffersLen() uint32 {
	return region(func(*llm.Engine) uint32 { return uint32(4 * len(llmBufTable)) })
}

// llm_pos is the number of tokens processed.
//
//go:wasmexport llm_pos
func llmPos() int32 {
	return status(func(e *llm.Engine) (int32, error) { return int32(e.Pos()), nil })
}

// llm_next is the last predicted token, or -1.
//
//go:wasmexport llm_next
func llmNext() int32 { return status(func(e *llm.Engine) (int32, error) { return e.Next(), nil }) }

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
	return status(func(e *llm.Engine) (int32, error) {
		err := e.Resume()
		return int32(e.Pos()), err
	})
}

// llm_raw_args is the address of the uint32 arguments llm_raw passes
// (rawArgs, llm_gen.go).
//
//go:wasmexport llm_raw_args
func llmRawArgs() uint32 { return uint32(uintptr(unsafe.Pointer(&rawArgs))) }

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
