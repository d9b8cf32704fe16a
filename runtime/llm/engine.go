package llm

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// Options choose an engine's memory and numerics.
type Options struct {
	// KV is the KV cache's element type; empty means bf16 (see the package doc).
	KV device.KVDType
	// MaxSeq is the context length: rows of the KV cache. Zero means 2048,
	// capped at the config's max_position_embeddings.
	MaxSeq int
	// MaxBatch is the most tokens one forward pass takes; longer prompts
	// run in chunks. It sizes the activations (and logits: MaxBatch·vocab
	// float32s). Zero means 32.
	MaxBatch int
}

// runState are the activation buffers, each sized for MaxBatch token rows;
// a pass of n tokens uses the first n rows.
type runState struct {
	x       Buf // f32 [B, hidden]: the residual stream
	xb      Buf // f32 [B, hidden]: normed input of a block, and its output
	q       Buf // f32 [B, heads·headDim]
	k, v    Buf // f32 [B, kvHeads·headDim]: this pass's keys and values
	att     Buf // f32 [B, heads·headDim]: attention output
	hb, hb2 Buf // f32 [B, intermediate]: gate and up projections
	logits  Buf // f32 [B, vocab]
	next    Buf // int32 [B]: argmax of each logits row
	invFreq Buf // f32 [headDim/2]: RoPE inverse frequencies
}

// Engine runs one conversation of one model. It is not safe for concurrent use.
type Engine struct {
	cfg    models.Config
	kv     device.KVDType
	batch  int
	ids    TensorIDs
	qkv    [][]int // per layer, the q, k and v projections' ids for NormLinear
	lmHead []int   // the lm_head id for NormLinear
	k      Kernels
	latch  latch // runs forward's calls on k
	s      runState
	layout StateLayout
	state  Buf // the state region

	stateView []byte    // the state region's bytes
	tokens    []int32   // view of the state's token ids
	logits    []float32 // view of s.logits
	argmax    []int32   // view of s.next
	allocated uint64

	pos       int   // tokens processed (rows of KV filled)
	next      int32 // the last predicted token, -1 if none
	logitRows int   // rows of logits the last pass wrote

	tag [16]byte // configTag of cfg, computed once: hashing the config is slow in a guest

	temperature, topP float32
	rng               *rand.Rand

	// program says Decode runs its token step as one program run (see
	// SetProgram); steps are the handles of the step's programs, greedy
	// [0] and sampling [1] (they differ by argmax), 0 until submitted.
	program bool
	steps   [2]uint32
}

// New makes an engine for cfg that runs its kernels on k and takes its
// buffers from alloc: the state region first, then the activations.
func New(cfg models.Config, k Kernels, alloc Alloc, opt Options) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("llm engine: %w", err)
	}
	if opt.KV == "" {
		opt.KV = device.KVBF16
	}
	if opt.KV.Size() == 0 {
		return nil, fmt.Errorf("llm engine: KV dtype %q is not f32, bf16 or f16", opt.KV)
	}
	if opt.MaxSeq == 0 {
		opt.MaxSeq = min(2048, cfg.MaxPositionEmbeddings)
	}
	if opt.MaxSeq < 1 || opt.MaxSeq > cfg.MaxPositionEmbeddings {
		return nil, fmt.Errorf("llm engine: maxSeq %d is not in [1, %d]", opt.MaxSeq, cfg.MaxPositionEmbeddings)
	}
	if opt.MaxBatch == 0 {
		opt.MaxBatch = 32
	}
	if opt.MaxBatch < 1 || opt.MaxBatch > 1<<16 {
		return nil, fmt.Errorf("llm engine: maxBatch %d is not in [1, 65536]", opt.MaxBatch)
	}
	e := &Engine{cfg: cfg, kv: opt.KV, batch: opt.MaxBatch, ids: IDs(cfg), k: k, latch: latch{k: k}, next: -1, tag: configTag(cfg)}
	for _, L := range e.ids.Layers {
		e.qkv = append(e.qkv, []int{L.Q, L.K, L.V})
	}
	e.lmHead = []int{e.ids.LMHead}
	var err error
	if e.layout, err = layoutState(cfg, opt.KV, opt.MaxSeq); err != nil {
		return nil, fmt.Errorf("llm engine: %w", err)
	}
	var bytes []byte
	if e.state, e.stateView, err = e.alloc(alloc, "state", uint64(e.layout.Size)); err != nil {
		return nil, err
	}
	e.tokens = unsafe.Slice((*int32)(unsafe.Pointer(&e.stateView[e.layout.Tokens])), opt.MaxSeq)

	B := uint64(opt.MaxBatch)
	d, qd := uint64(cfg.HiddenSize), uint64(cfg.NumAttentionHeads*cfg.HeadDim)
	kvd, inter := uint64(e.layout.Width), uint64(cfg.IntermediateSize)
	for _, b := range []struct {
		name string
		buf  *Buf
		size uint64
	}{
		{"x", &e.s.x, B * d * 4}, {"xb", &e.s.xb, B * d * 4},
		{"q", &e.s.q, B * qd * 4}, {"k", &e.s.k, B * kvd * 4}, {"v", &e.s.v, B * kvd * 4},
		{"att", &e.s.att, B * qd * 4}, {"hb", &e.s.hb, B * inter * 4}, {"hb2", &e.s.hb2, B * inter * 4},
	} {
		if *b.buf, _, err = e.alloc(alloc, b.name, b.size); err != nil {
			return nil, err
		}
	}
	if e.s.logits, bytes, err = e.alloc(alloc, "logits", B*uint64(cfg.VocabSize)*4); err != nil {
		return nil, err
	}
	e.logits = unsafe.Slice((*float32)(unsafe.Pointer(&bytes[0])), len(bytes)/4)
	if e.s.next, bytes, err = e.alloc(alloc, "next", B*4); err != nil {
		return nil, err
	}
	e.argmax = unsafe.Slice((*int32)(unsafe.Pointer(&bytes[0])), len(bytes)/4)
	inv := InvFreq(cfg)
	if e.s.invFreq, bytes, err = e.alloc(alloc, "invFreq", uint64(len(inv))*4); err != nil {
		return nil, err
	}
	copy(unsafe.Slice((*float32)(unsafe.Pointer(&bytes[0])), len(inv)), inv)
	e.writeHeader()
	return e, nil
}

// pageAlign is where every engine buffer starts, and the granule it owns
// alone. The memory may be unified memory that the driver migrates between
// the host and the GPU on touch (cuda's managed mode, where a Wasm guest's
// whole linear memory lives in it, its Go heap too): a buffer the kernels
// use must share no page with bytes the host touches (the state header and
// token ids, the argmax output, a guest's other heap objects), or the page
// moves back and forth every token. 64 KiB is the GPU's large page, a
// multiple of every host page size the engine runs with.
const pageAlign = 64 << 10

func alignPage(n uint64) uint64 { return (n + pageAlign - 1) &^ (pageAlign - 1) }

// alloc gets one buffer of size bytes that starts on a pageAlign boundary
// and owns every byte up to the next one after its end: it asks the
// allocator for that much more and aligns inside. It checks what the
// allocator returned.
func (e *Engine) alloc(alloc Alloc, name string, size uint64) (Buf, []byte, error) {
	padded := alignPage(size) + pageAlign
	if size == 0 || padded > 1<<32-1 {
		return Buf{}, nil, fmt.Errorf("llm engine: buffer %s of %d bytes does not fit 4 GiB", name, size)
	}
	b, view, err := alloc(uint32(padded))
	if err != nil {
		return Buf{}, nil, fmt.Errorf("llm engine: allocate %s (%d bytes): %w", name, padded, err)
	}
	if b.Len != uint32(padded) || uint64(len(view)) != padded || b.Off%8 != 0 || uint64(b.Off)+padded > 1<<32 {
		return Buf{}, nil, fmt.Errorf("llm engine: allocate %s: allocator returned %d bytes at %d, view %d bytes", name, b.Len, b.Off, len(view))
	}
	skip := alignPage(uint64(b.Off)) - uint64(b.Off)
	e.allocated += padded
	return Buf{Off: b.Off + uint32(skip), Len: uint32(size)}, view[skip : skip+size : skip+size], nil
}

// Config is the model's configuration.
func (e *Engine) Config() models.Config { return e.cfg }

// KV is the KV cache's element type.
func (e *Engine) KV() device.KVDType { return e.kv }

// MaxSeq is the context length.
func (e *Engine) MaxSeq() int { return e.layout.MaxSeq }

// MaxBatch is the most tokens one forward pass takes.
func (e *Engine) MaxBatch() int { return e.batch }

// Pos is the number of tokens processed: the next token goes to this position.
func (e *Engine) Pos() int { return e.pos }

// Next is the last predicted token, not yet processed, or -1 if none.
func (e *Engine) Next() int32 { return e.next }

// Tokens are the token ids at positions 0..Pos()-1 (a view of the state region).
func (e *Engine) Tokens() []int32 { return e.tokens[:e.pos] }

// State is the state region: header, token ids and KV cache, contiguous.
func (e *Engine) State() Buf { return e.state }

// StateLayout says where the state region's parts are.
func (e *Engine) StateLayout() StateLayout { return e.layout }

// Allocated is the bytes of memory the engine took from its allocator.
func (e *Engine) Allocated() uint64 { return e.allocated }

// Logits returns the logits rows the last forward pass wrote (one row of
// vocab float32s per row: the last token's, or every token's if it asked
// for all), as a view of the engine's memory valid until the next pass.
func (e *Engine) Logits() []float32 { return e.logits[:e.logitRows*e.cfg.VocabSize] }

// LogitsBuf is the range of the logits buffer (all MaxBatch rows).
func (e *Engine) LogitsBuf() Buf { return e.s.logits }

// Reset forgets the conversation: position 0, no next token.
func (e *Engine) Reset() {
	e.pos, e.next, e.logitRows = 0, -1, 0
	e.writeHeader()
}

// Resume takes the position and next token from the state region's header,
// after its bytes were restored from a snapshot, and refuses a header written
// by an engine of another model, KV dtype or geometry, or one whose position
// or next token this engine cannot hold. A refused header leaves the engine
// reset (Reset: position 0, its header rewritten), never at a position its
// cache may not hold.
func (e *Engine) Resume() error {
	pos, next, err := e.readHeader()
	if err != nil {
		e.Reset()
		return fmt.Errorf("llm resume: %w (the conversation is reset)", err)
	}
	e.pos, e.next, e.logitRows = pos, next, 0
	return nil
}

// SetSampling chooses how the next token is picked: temperature 0 is greedy
// (argmax on the device), otherwise a sample from softmax(logits/temperature)
// restricted to the smallest set of tokens whose probability exceeds topP
// (topP 0 or 1: all tokens), drawn from a PCG stream seeded by seed.
func (e *Engine) SetSampling(temperature, topP float32, seed uint64) error {
	if !(temperature >= 0) || temperature > 1e6 {
		return fmt.Errorf("llm sampling: temperature %v is not in [0, 1e6]", temperature)
	}
	if !(topP >= 0 && topP <= 1) {
		return fmt.Errorf("llm sampling: top-p %v is not a number in [0, 1]", topP)
	}
	e.temperature, e.topP = temperature, topP
	e.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return nil
}

// Prefill processes tokens from the current position, in chunks of
// MaxBatch, and returns the predicted next token.
func (e *Engine) Prefill(tokens []int32) (int32, error) {
	if err := e.pass(tokens, false); err != nil {
		return 0, err
	}
	return e.pick()
}

// Decode processes one token and returns the predicted next one.
func (e *Engine) Decode(token int32) (int32, error) {
	if e.program {
		return e.decodeProgram(token)
	}
	return e.Prefill([]int32{token})
}

// SetProgram chooses how Decode runs a token step: op by op (off, the
// default), or as one run of a program (on) that the engine records from
// the same forward pass and pick the op-by-op path runs, at its first
// decode, and submits once (ProgramKernels). Both run the same calls in the
// same order. Prefill always runs op by op. The kernels must be
// ProgramKernels.
func (e *Engine) SetProgram(on bool) error {
	if _, ok := e.k.(ProgramKernels); on && !ok {
		return fmt.Errorf("llm: kernels %T cannot run programs", e.k)
	}
	e.program = on
	return nil
}

// Close releases the programs the engine submitted (SetProgram). The
// engine's memory is its caller's; the engine may still run op by op.
func (e *Engine) Close() error {
	var errs []error
	for i, h := range e.steps {
		if h != 0 {
			errs = append(errs, e.k.(ProgramKernels).FreeProgram(h))
			e.steps[i] = 0
		}
	}
	return errors.Join(errs...)
}

// decodeProgram is Decode as one run of the token step's program: the
// token goes into the state's token ids, the program runs at the position
// (forward, the pick's argmax, the Sync), and the pick is read as pick does.
func (e *Engine) decodeProgram(token int32) (int32, error) {
	tokens := []int32{token}
	if err := e.checkPass(tokens, false); err != nil {
		return 0, err
	}
	h, err := e.step()
	if err != nil {
		return 0, err
	}
	e.logitRows = 0
	e.tokens[e.pos] = token
	if err := e.k.(ProgramKernels).RunProgram(h, e.pos); err != nil {
		e.writeHeader()
		return 0, fmt.Errorf("llm forward at position %d: %w", e.pos, err)
	}
	e.pos++
	e.next, e.logitRows = -1, 1
	e.writeHeader()
	return e.picked()
}

// step returns the handle of the token step's program for the sampling
// rule in use, recording and submitting it the first time.
func (e *Engine) step() (uint32, error) {
	kind := 0
	if e.temperature != 0 {
		kind = 1
	}
	if h := e.steps[kind]; h != 0 {
		return h, nil
	}
	p, err := llmabi.Record(e.recordStep, max(2, e.layout.MaxSeq-1))
	if err != nil {
		return 0, fmt.Errorf("llm: %w", err)
	}
	h, err := e.k.(ProgramKernels).SubmitProgram(p)
	if err != nil {
		return 0, fmt.Errorf("llm: submit the token step: %w", err)
	}
	if h == 0 {
		return 0, fmt.Errorf("llm: submit the token step: kernels %T returned handle 0", e.k)
	}
	e.steps[kind] = h
	return h, nil
}

// recordStep returns the calls of one decode step at pos — forward's for
// one token, then the pick's (tail) — without running them: the calls the
// op-by-op path runs at that position.
func (e *Engine) recordStep(pos int) ([]llmabi.Call, error) {
	r := &recorder{}
	k := e.latch.k
	e.latch.k = r
	defer func() { e.latch.k = k }()
	if err := e.forward(1, pos, false, true); err != nil {
		return nil, err
	}
	if err := e.tail(); err != nil {
		return nil, err
	}
	return r.calls, nil
}

// Generate decodes n tokens, starting from the last prediction, and returns
// the n new predictions.
func (e *Engine) Generate(n int) ([]int32, error) {
	out := make([]int32, 0, n)
	for range n {
		if e.next < 0 {
			return out, fmt.Errorf("llm generate: no predicted token to continue from (prefill first)")
		}
		t, err := e.Decode(e.next)
		if err != nil {
			return out, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Forward processes tokens at positions Pos()..Pos()+len-1 and leaves
// logits for the last token, or for every token if all is set (then the
// tokens must fit one pass: len ≤ MaxBatch). It does not pick a next token.
func (e *Engine) Forward(tokens []int32, all bool) error {
	if err := e.pass(tokens, all); err != nil {
		return err
	}
	// Devices may queue work: the logits are only there after a Sync.
	if err := e.run(llmabi.Sync()); err != nil {
		return fmt.Errorf("llm forward: sync: %w", err)
	}
	return nil
}

// pass queues the forward pass over tokens without waiting for it; Prefill
// and Decode follow it with pick, whose Argmax and Sync end the token.
func (e *Engine) pass(tokens []int32, all bool) error {
	if err := e.checkPass(tokens, all); err != nil {
		return err
	}
	n := len(tokens)
	e.logitRows = 0
	for lo := 0; lo < n; lo += e.batch {
		hi := min(lo+e.batch, n)
		copy(e.tokens[e.pos:], tokens[lo:hi])
		if err := e.forward(hi-lo, e.pos, all, hi == n); err != nil {
			e.writeHeader()
			return fmt.Errorf("llm forward at position %d: %w", e.pos, err)
		}
		e.pos += hi - lo
	}
	e.next = -1
	e.logitRows = 1
	if all {
		e.logitRows = n
	}
	e.writeHeader()
	return nil
}

// checkPass refuses tokens a pass cannot take at the current position.
func (e *Engine) checkPass(tokens []int32, all bool) error {
	n := len(tokens)
	switch {
	case n == 0:
		return fmt.Errorf("llm forward: no tokens")
	case e.pos+n > e.layout.MaxSeq:
		return fmt.Errorf("llm forward: %d tokens at position %d exceed the context of %d", n, e.pos, e.layout.MaxSeq)
	case all && n > e.batch:
		return fmt.Errorf("llm forward: logits for all %d tokens need them in one pass (maxBatch %d)", n, e.batch)
	}
	for i, t := range tokens {
		if t < 0 || int(t) >= e.cfg.VocabSize {
			return fmt.Errorf("llm forward: token %d at %d is outside the vocabulary of %d", t, i, e.cfg.VocabSize)
		}
	}
	return nil
}

// pick chooses the next token from the last logits row and records it.
func (e *Engine) pick() (int32, error) {
	if err := e.tail(); err != nil {
		return 0, fmt.Errorf("llm %w", err)
	}
	return e.picked()
}

// tail runs the calls that end a token step after forward: the greedy
// pick's argmax of the last logits row, then the Sync after which the
// logits and the argmax are in memory.
func (e *Engine) tail() error {
	k := &e.latch
	k.err = nil
	if e.temperature == 0 {
		k.run("argmax", -1, llmabi.Argmax(e.row(e.s.logits, 0, 1, e.cfg.VocabSize), e.row(e.s.next, 0, 1, 1), 1, e.cfg.VocabSize))
	}
	k.run("sync", -1, llmabi.Sync())
	return k.err
}

// picked reads the pick of the step whose tail has run and records it.
func (e *Engine) picked() (int32, error) {
	var t int32
	if e.temperature == 0 {
		t = e.argmax[0]
	} else {
		t = e.sample(e.logits[:e.cfg.VocabSize])
	}
	// t is the token after the last one processed (position e.pos-1).
	if t == nonFinite {
		return 0, fmt.Errorf("llm: the logits at position %d hold NaN or infinity (weights or activations that are not finite)", e.pos-1)
	}
	if t < 0 || int(t) >= e.cfg.VocabSize {
		return 0, fmt.Errorf("llm: device picked token %d outside the vocabulary", t)
	}
	e.next = t
	e.writeHeader()
	return t, nil
}

// row returns rows [r, r+n) of a buffer of width-element 4-byte rows.
func (e *Engine) row(b Buf, r, n, width int) device.Span {
	return Buf{Off: b.Off + uint32(r*width*4), Len: uint32(n * width * 4)}.Span()
}

// run runs one kernel call outside forward's steps.
func (e *Engine) run(c llmabi.Call) error {
	e.latch.c = c
	return e.k.Run(&e.latch.c)
}
