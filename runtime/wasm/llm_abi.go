package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/tetratelabs/wazero/api"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// The Llama kernels of the host ABI. A guest running runtime/llm imports one
// host function per device.LLMOps op; each takes (ptr, len) pairs for its
// operands, turns them into spans with Span (bounds-checked against the
// guest's current memory), rejects overlapping outputs, and runs the op on
// the guest's memory with the weights bound to the guest (Guest.Weights).
// Any error traps the guest; nothing a guest passes makes the host panic.
//
//	llm_embed(table, tok, tok_len, out, out_len, n)
//	llm_rmsnorm(weight, x, x_len, out, out_len, n, eps f32)
//	llm_linear(weight, x, x_len, out, out_len, n)
//	llm_rope(x, x_len, inv_freq, inv_freq_len, n, heads, head_dim, pos)
//	llm_kvstore(src, src_len, cache, cache_len, kv, n, pos, width)
//	llm_attention(q, q_len, k, k_len, v, v_len, out, out_len, kv, n, pos, heads, kv_heads, head_dim)
//	llm_swiglu(gate, gate_len, up, up_len, out, out_len, count)
//	llm_add(x, x_len, y, y_len, count)
//	llm_argmax(x, x_len, out, out_len, n, width)
//	llm_sync()
//	llm_norm_linear(norm, count, w0, w1, w2, x, x_len, xb, xb_len, o0, o0_len, o1, o1_len, o2, o2_len, n, eps f32)
//	llm_norm_glu(norm, gate, up, x, x_len, xb, xb_len, tmp, tmp_len, out, out_len, n, eps f32)
//	llm_linear_add(weight, x, x_len, tmp, tmp_len, resid, resid_len, n)
//	llm_rope_kv(q, q_len, k, k_len, v, v_len, inv_freq, inv_freq_len, k_cache, k_cache_len, v_cache, v_cache_len, kv, n, pos, heads, kv_heads, head_dim)
//
// The last four are device.FusedLLMOps; llm_norm_linear uses the first count
// of w0..w2 and o0..o2 (1 ≤ count ≤ 3) and ignores the rest.
//
// Tensor ids are int32 (runtime/llm.IDs); kv is the KV dtype code
// (0 f32, 1 bf16, 2 f16); every other parameter is an unsigned i32.

// KVCodes are the host ABI's KV dtype codes: KVCodes[code].
var KVCodes = []device.KVDType{device.KVF32, device.KVBF16, device.KVF16}

// LLMFuncs are the host functions of the Llama kernels. They are part of the
// core ABI (every guest imports them, so every runtime registers them): do
// not pass them in Config.Funcs.
func LLMFuncs() []HostFunc {
	ps := func(n int) []api.ValueType {
		p := make([]api.ValueType, n)
		for i := range p {
			p[i] = i32
		}
		return p
	}
	return []HostFunc{
		llmFunc("llm_embed", ps(6), hostLLMEmbed),
		llmFunc("llm_rmsnorm", append(ps(6), api.ValueTypeF32), hostLLMRMSNorm),
		llmFunc("llm_linear", ps(6), hostLLMLinear),
		llmFunc("llm_rope", ps(8), hostLLMRoPE),
		llmFunc("llm_kvstore", ps(8), hostLLMKVStore),
		llmFunc("llm_attention", ps(14), hostLLMAttention),
		llmFunc("llm_swiglu", ps(7), hostLLMSwiGLU),
		llmFunc("llm_add", ps(5), hostLLMAdd),
		llmFunc("llm_argmax", ps(6), hostLLMArgmax),
		llmFunc("llm_sync", nil, hostLLMSync),
		llmFunc("llm_norm_linear", append(ps(16), api.ValueTypeF32), hostLLMNormLinear),
		llmFunc("llm_norm_glu", append(ps(12), api.ValueTypeF32), hostLLMNormGLU),
		llmFunc("llm_linear_add", ps(8), hostLLMLinearAdd),
		llmFunc("llm_rope_kv", ps(18), hostLLMRoPEKV),
	}
}

// llmFunc wraps an op so that a panic from below (a device bug) still ends
// as a trap of this guest call rather than an unexplained crash.
func llmFunc(name string, params []api.ValueType, fn func(g *Guest, ops device.LLMOps, s []uint64)) HostFunc {
	return HostFunc{Name: name, Params: params, Fn: func(_ context.Context, g *Guest, s []uint64) {
		ops, ok := g.mem.(device.LLMOps)
		if !ok {
			g.Trap("device memory %T has no LLM kernels", g.mem)
		}
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(*TrapError); ok {
					panic(r)
				}
				g.Trap("internal error: %v", r)
			}
		}()
		fn(g, ops, s)
	}}
}

// check traps on a device error.
func (g *Guest) check(err error) {
	if err != nil {
		g.Trap("%v", err)
	}
}

func tensorID(v uint64) int { return int(int32(uint32(v))) }
func dim(v uint64) int      { return int(uint32(v)) }

func kvType(g *Guest, v uint64) device.KVDType {
	c := uint32(v)
	if c >= uint32(len(KVCodes)) {
		g.Trap("KV dtype code %d is not 0 (f32), 1 (bf16) or 2 (f16)", c)
	}
	return KVCodes[c]
}

func hostLLMEmbed(g *Guest, ops device.LLMOps, s []uint64) {
	tok, out := g.Span("tokens", s[1], s[2]), g.Span("out", s[3], s[4])
	g.NoOverlap([]device.Span{tok}, []device.Span{out})
	g.check(ops.Embed(g.Weights, tensorID(s[0]), tok, out, dim(s[5])))
}

func hostLLMRMSNorm(g *Guest, ops device.LLMOps, s []uint64) {
	x, out := g.Span("x", s[1], s[2]), g.Span("out", s[3], s[4])
	if out != x {
		g.NoOverlap([]device.Span{x}, []device.Span{out})
	}
	g.check(ops.RMSNorm(g.Weights, tensorID(s[0]), x, out, dim(s[5]), api.DecodeF32(s[6])))
}

func hostLLMLinear(g *Guest, ops device.LLMOps, s []uint64) {
	x, out := g.Span("x", s[1], s[2]), g.Span("out", s[3], s[4])
	g.NoOverlap([]device.Span{x}, []device.Span{out})
	g.check(ops.Linear(g.Weights, tensorID(s[0]), x, out, dim(s[5])))
}

func hostLLMRoPE(g *Guest, ops device.LLMOps, s []uint64) {
	x, f := g.Span("x", s[0], s[1]), g.Span("invFreq", s[2], s[3])
	g.NoOverlap([]device.Span{f}, []device.Span{x})
	g.check(ops.RoPE(x, f, dim(s[4]), dim(s[5]), dim(s[6]), dim(s[7])))
}

func hostLLMKVStore(g *Guest, ops device.LLMOps, s []uint64) {
	src, cache := g.Span("src", s[0], s[1]), g.Span("cache", s[2], s[3])
	g.NoOverlap([]device.Span{src}, []device.Span{cache})
	g.check(ops.KVStore(src, cache, kvType(g, s[4]), dim(s[5]), dim(s[6]), dim(s[7])))
}

func hostLLMAttention(g *Guest, ops device.LLMOps, s []uint64) {
	q, k := g.Span("q", s[0], s[1]), g.Span("kCache", s[2], s[3])
	v, out := g.Span("vCache", s[4], s[5]), g.Span("out", s[6], s[7])
	g.NoOverlap([]device.Span{q, k, v}, []device.Span{out})
	g.check(ops.Attention(q, k, v, out, kvType(g, s[8]), dim(s[9]), dim(s[10]), dim(s[11]), dim(s[12]), dim(s[13])))
}

func hostLLMSwiGLU(g *Guest, ops device.LLMOps, s []uint64) {
	gate, up, out := g.Span("gate", s[0], s[1]), g.Span("up", s[2], s[3]), g.Span("out", s[4], s[5])
	if out == gate {
		g.NoOverlap([]device.Span{up}, []device.Span{out})
	} else {
		g.NoOverlap([]device.Span{gate, up}, []device.Span{out})
	}
	g.check(ops.SwiGLU(gate, up, out, dim(s[6])))
}

func hostLLMAdd(g *Guest, ops device.LLMOps, s []uint64) {
	x, y := g.Span("x", s[0], s[1]), g.Span("y", s[2], s[3])
	g.NoOverlap([]device.Span{y}, []device.Span{x})
	g.check(ops.Add(x, y, dim(s[4])))
}

func hostLLMArgmax(g *Guest, ops device.LLMOps, s []uint64) {
	x, out := g.Span("x", s[0], s[1]), g.Span("out", s[2], s[3])
	g.NoOverlap([]device.Span{x}, []device.Span{out})
	g.check(ops.Argmax(x, out, dim(s[4]), dim(s[5])))
}

func hostLLMSync(g *Guest, ops device.LLMOps, _ []uint64) {
	g.check(ops.Sync())
}

func hostLLMNormLinear(g *Guest, ops device.LLMOps, s []uint64) {
	count := dim(s[1])
	if count < 1 || count > device.NormLinearMax {
		g.Trap("norm_linear: count %d is not in [1, %d]", count, device.NormLinearMax)
	}
	var ids [device.NormLinearMax]int
	var outs [device.NormLinearMax]device.Span
	x, xb := g.Span("x", s[5], s[6]), g.Span("xb", s[7], s[8])
	for i := range count {
		ids[i] = tensorID(s[2+i])
		outs[i] = g.Span("out", s[9+2*i], s[10+2*i])
	}
	g.NoOverlap([]device.Span{x}, append([]device.Span{xb}, outs[:count]...))
	g.check(ops.NormLinear(g.Weights, tensorID(s[0]), ids[:count], x, xb, outs[:count], dim(s[15]), api.DecodeF32(s[16])))
}

func hostLLMNormGLU(g *Guest, ops device.LLMOps, s []uint64) {
	x, xb := g.Span("x", s[3], s[4]), g.Span("xb", s[5], s[6])
	tmp, out := g.Span("tmp", s[7], s[8]), g.Span("out", s[9], s[10])
	g.NoOverlap([]device.Span{x}, []device.Span{xb, tmp, out})
	g.check(ops.NormGLU(g.Weights, tensorID(s[0]), tensorID(s[1]), tensorID(s[2]), x, xb, tmp, out, dim(s[11]), api.DecodeF32(s[12])))
}

func hostLLMLinearAdd(g *Guest, ops device.LLMOps, s []uint64) {
	x, tmp, resid := g.Span("x", s[1], s[2]), g.Span("tmp", s[3], s[4]), g.Span("resid", s[5], s[6])
	g.NoOverlap([]device.Span{x}, []device.Span{tmp, resid})
	g.check(ops.LinearAdd(g.Weights, tensorID(s[0]), x, tmp, resid, dim(s[7])))
}

func hostLLMRoPEKV(g *Guest, ops device.LLMOps, s []uint64) {
	q, k, v := g.Span("q", s[0], s[1]), g.Span("k", s[2], s[3]), g.Span("v", s[4], s[5])
	f, kc, vc := g.Span("invFreq", s[6], s[7]), g.Span("kCache", s[8], s[9]), g.Span("vCache", s[10], s[11])
	g.NoOverlap([]device.Span{v, f}, []device.Span{q, k, kc, vc})
	g.check(ops.RoPEKV(q, k, v, f, kc, vc, kvType(g, s[12]), dim(s[13]), dim(s[14]), dim(s[15]), dim(s[16]), dim(s[17])))
}

// The host side of the guest's llm_* exports: typed wrappers that move a
// config or tokens into the guest and read results back.

// LLMInit writes cfg as config.json into the guest and makes its engine with
// KV dtype kv, context maxSeq and tokens per pass maxBatch (0: defaults).
// Bind weights (g.Weights) before running it.
func (g *Guest) LLMInit(ctx context.Context, cfg models.Config, kv device.KVDType, maxSeq, maxBatch int) error {
	code := -1
	for i, k := range KVCodes {
		if k == kv || kv == "" && k == device.KVBF16 {
			code = i
		}
	}
	if code < 0 {
		return fmt.Errorf("llm init: KV dtype %q is not f32, bf16 or f16", kv)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("llm init: %w", err)
	}
	res, err := g.Call(ctx, "alloc", uint64(len(js)))
	if err != nil {
		return fmt.Errorf("llm init: %w", err)
	}
	if !g.write(uint32(res[0]), js) {
		return errors.New("llm init: guest returned a config buffer outside its memory")
	}
	return g.llmStatus(ctx, "llm_init", res[0], uint64(len(js)), uint64(code), uint64(maxSeq), uint64(maxBatch))
}

// llmStatus calls an llm_* export and turns a -1 into the guest's message.
func (g *Guest) llmStatus(ctx context.Context, name string, args ...uint64) error {
	_, err := g.llmCall(ctx, name, args...)
	return err
}

func (g *Guest) llmCall(ctx context.Context, name string, args ...uint64) (int32, error) {
	res, err := g.Call(ctx, name, args...)
	if err != nil {
		return 0, err
	}
	v := int32(uint32(res[0]))
	if v >= 0 {
		return v, nil
	}
	msg := "unknown error"
	p, errP := g.Call(ctx, "llm_err_ptr")
	n, errN := g.Call(ctx, "llm_err_len")
	if errP == nil && errN == nil {
		if b, ok := g.Read(uint32(p[0]), uint32(n[0])); ok {
			msg = string(b)
		}
	}
	return v, fmt.Errorf("%s: %s", name, msg)
}

// llmTokens writes tokens into the guest's token buffer and returns its offset.
func (g *Guest) llmTokens(ctx context.Context, tokens []int32) (uint64, error) {
	if len(tokens) == 0 || len(tokens) > 1<<24 {
		return 0, fmt.Errorf("llm: %d tokens", len(tokens))
	}
	res, err := g.Call(ctx, "llm_tokens_buf", uint64(len(tokens)))
	if err != nil {
		return 0, err
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&tokens[0])), 4*len(tokens))
	if !g.write(uint32(res[0]), b) {
		return 0, errors.New("llm: guest token buffer is outside its memory")
	}
	return res[0], nil
}

// LLMPrefill runs the guest's llm_prefill on tokens and returns the next token.
func (g *Guest) LLMPrefill(ctx context.Context, tokens []int32) (int32, error) {
	p, err := g.llmTokens(ctx, tokens)
	if err != nil {
		return 0, err
	}
	return g.llmCall(ctx, "llm_prefill", p, uint64(len(tokens)))
}

// LLMDecode runs the guest's llm_decode on one token and returns the next.
func (g *Guest) LLMDecode(ctx context.Context, token int32) (int32, error) {
	return g.llmCall(ctx, "llm_decode", uint64(uint32(token)))
}

// LLMForward runs the guest's llm_forward and returns a copy of the logits
// it wrote: the last token's row, or every token's with all.
func (g *Guest) LLMForward(ctx context.Context, tokens []int32, all bool) ([]float32, error) {
	p, err := g.llmTokens(ctx, tokens)
	if err != nil {
		return nil, err
	}
	a := uint64(0)
	if all {
		a = 1
	}
	if err := g.llmStatus(ctx, "llm_forward", p, uint64(len(tokens)), a); err != nil {
		return nil, err
	}
	ptr, err1 := g.Call(ctx, "llm_logits_ptr")
	n, err2 := g.Call(ctx, "llm_logits_len")
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	b, ok := g.Read(uint32(ptr[0]), uint32(n[0]))
	if !ok {
		return nil, errors.New("llm: guest logits are outside its memory")
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
	}
	return out, nil
}

// LLMState returns the guest's state region (offset, length) and position.
func (g *Guest) LLMState(ctx context.Context) (off, length uint32, pos int, err error) {
	o, err1 := g.Call(ctx, "llm_state_ptr")
	l, err2 := g.Call(ctx, "llm_state_len")
	p, err3 := g.llmCall(ctx, "llm_pos")
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, 0, err
	}
	return uint32(o[0]), uint32(l[0]), int(p), nil
}
