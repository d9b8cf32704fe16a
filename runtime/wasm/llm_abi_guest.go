package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unsafe"

	"github.com/tetratelabs/wazero/api"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// The host side of the guest's llm_* exports: typed wrappers that move a
// config or tokens into the guest and read results back.

// LLMInit writes cfg as config.json into the guest and makes its engine with
// KV dtype kv, context maxSeq and tokens per pass maxBatch (0: defaults).
// Bind weights (g.Weights) before running it.
func (g *Guest) LLMInit(ctx context.Context, cfg models.Config, kv device.KVDType, maxSeq, maxBatch int) error {
	if kv == "" {
		kv = device.KVBF16
	}
	code, ok := kv.Code()
	if !ok {
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

// llmCall calls an llm_* export that returns an int32 status: ≥ 0 is its
// result, -1 an error whose message llm_err_ptr/llm_err_len point at.
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

// llmRange calls the exports that return a region's offset and length and
// returns a view of its bytes.
func (g *Guest) llmRange(ctx context.Context, what, ptr, length string) ([]byte, error) {
	p, err1 := g.Call(ctx, ptr)
	n, err2 := g.Call(ctx, length)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	b, ok := g.Read(uint32(p[0]), uint32(n[0]))
	if !ok {
		return nil, fmt.Errorf("llm: guest %s [%d, +%d) is outside its memory", what, uint32(p[0]), uint32(n[0]))
	}
	return b, nil
}

// llmTokens writes tokens into the guest's token buffer and returns its
// offset. The buffer is the guest's, reused across calls.
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
	l, err := g.LLMLogits(ctx)
	return slices.Clone(l), err
}

// LLMLogits returns the last pass's logits rows as a view of the guest's
// memory, valid until the guest runs again.
func (g *Guest) LLMLogits(ctx context.Context) ([]float32, error) {
	b, err := g.llmRange(ctx, "logits", "llm_logits_ptr", "llm_logits_len")
	if err != nil || len(b) < 4 {
		return nil, err
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		return nil, errors.New("llm: guest logits are not 4-byte aligned")
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4), nil
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

// LLMStateBytes returns the guest's state region (header, token ids, KV
// cache) as a view of its memory.
func (g *Guest) LLMStateBytes(ctx context.Context) ([]byte, error) {
	return g.llmRange(ctx, "state region", "llm_state_ptr", "llm_state_len")
}

// LLMPos returns the number of tokens the guest's engine has processed.
func (g *Guest) LLMPos(ctx context.Context) (int, error) {
	p, err := g.llmCall(ctx, "llm_pos")
	return int(p), err
}

// LLMReset makes the guest's engine forget the conversation.
func (g *Guest) LLMReset(ctx context.Context) error {
	_, err := g.Call(ctx, "llm_reset")
	return err
}

// LLMResume makes the guest's engine adopt its state region's contents
// after they were restored.
func (g *Guest) LLMResume(ctx context.Context) error {
	return g.llmStatus(ctx, "llm_resume")
}

// LLMSetProgram makes the guest's engine decode with its token step as a
// program (one host call per token) or op by op (llm.Engine.SetProgram).
func (g *Guest) LLMSetProgram(ctx context.Context, on bool) error {
	v := uint64(0)
	if on {
		v = 1
	}
	return g.llmStatus(ctx, "llm_set_program", v)
}

// LLMSampling sets the guest's next-token rule (llm.Engine.SetSampling).
func (g *Guest) LLMSampling(ctx context.Context, temperature, topP float32, seed uint64) error {
	return g.llmStatus(ctx, "llm_sampling", api.EncodeF32(temperature), api.EncodeF32(topP), seed)
}
