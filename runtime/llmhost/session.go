// Package llmhost runs a Llama conversation for the host, either inside a
// Wasm guest (the guest owns the engine, its KV cache and activations in its
// linear memory and calls the host's kernels) or natively (the same engine
// driven by host Go over the same device memory), behind one interface, so an
// experiment can time and compare the two with identical code.
//
// A guest session is bounded by its runtime's wasm.Limits: each call into it
// has a deadline, and a session stopped by one (or by its context, or Close)
// is closed; its later calls fail with wasm.ErrClosed. Both kinds turn a
// fault of the kernels reading mapped weights (a model.safetensors truncated
// while in use) into an error instead of the death of the process. A restore
// the engine refuses (Resume) leaves the session reset to an empty
// conversation, never at a position its cache does not hold.
package llmhost

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// Session is one conversation of one model on one device memory.
type Session interface {
	// Reset forgets the conversation.
	Reset(ctx context.Context) error
	// Prefill processes the prompt and returns the next token (greedy).
	Prefill(ctx context.Context, tokens []int32) (int32, error)
	// Decode processes one token and returns the next.
	Decode(ctx context.Context, token int32) (int32, error)
	// Pos is the number of tokens in the KV cache.
	Pos(ctx context.Context) (int, error)
	// State is the state region (header, token ids, KV cache) as bytes of
	// the session's memory, a view valid until the next call.
	State(ctx context.Context) ([]byte, error)
	// Resume adopts the state region's contents after they were restored.
	Resume(ctx context.Context) error
	// SetSampling chooses the next-token rule: temperature 0 is greedy
	// (argmax on the device); otherwise seeded temperature and top-p sampling.
	SetSampling(ctx context.Context, temperature, topP float32, seed uint64) error
	// Logits are the last pass's logits rows (a view of the session's memory).
	Logits(ctx context.Context) ([]float32, error)
	// HostCalls counts the guest→host calls the session's guest made so
	// far: kernel calls, program runs and the rest of the host ABI (0 for
	// a native session, which has no boundary to cross).
	HostCalls() uint64
	// Memory is the device memory the session's engine lives in.
	Memory() device.Memory
	// Config is the model's configuration.
	Config() models.Config
	// Close releases the session's memory (not the weights).
	Close(ctx context.Context) error
}

// Options size a session's engine.
type Options struct {
	KV       device.KVDType // KV cache element type ("" = bf16)
	MaxSeq   int            // context length
	MaxBatch int            // tokens per forward pass
	Place    Placement      // where the new session's pages go before first use (place.go)
	// Program makes decode run its token step as one program run per
	// token (llm.Engine.SetProgram) instead of op by op.
	Program bool
	// OnGuest, if set, is called with a guest session's new guest before
	// its engine is made (a host running many tenants sets the guest's
	// RunProgram there); native sessions ignore it.
	OnGuest func(g *wasm.Guest)
}

// MemoryBytes is a generous memory size for cfg's engine: KV cache,
// activations and logits, plus room for a guest's Go runtime and heap.
func MemoryBytes(cfg models.Config, o Options) uint64 {
	kv := o.KV
	if kv == "" {
		kv = device.KVBF16
	}
	seq, batch := uint64(max(o.MaxSeq, 1)), uint64(max(o.MaxBatch, 32))
	state := uint64(cfg.NumHiddenLayers) * 2 * seq * uint64(cfg.NumKeyValueHeads*cfg.HeadDim*kv.Size())
	act := batch * uint64(4*(3*cfg.HiddenSize+2*cfg.IntermediateSize+cfg.VocabSize+cfg.NumAttentionHeads*cfg.HeadDim))
	return state + 2*act + 96<<20
}

// native is a Session whose engine runs on the host.
type native struct {
	mem device.Memory
	e   *llm.Engine
}

// NewNative makes a native session in a new memory of mode on d.
func NewNative(d device.Device, mode device.Mode, cfg models.Config, w device.Weights, o Options) (Session, error) {
	mem, err := d.NewMemory(mode, MemoryBytes(cfg, o))
	if err != nil {
		return nil, fmt.Errorf("native session: %w", err)
	}
	e, err := llm.NewNative(cfg, mem, w, llm.Options{KV: o.KV, MaxSeq: o.MaxSeq, MaxBatch: o.MaxBatch})
	if err == nil {
		err = e.SetProgram(o.Program)
	}
	if err != nil {
		mem.Close()
		return nil, fmt.Errorf("native session: %w", err)
	}
	b := e.Buffers()
	dev := make([]device.Span, len(b.Device))
	for i, x := range b.Device {
		dev[i] = x.Span()
	}
	if err := place(mem, o.Place, b.KV.Span(), dev); err != nil {
		mem.Close()
		return nil, fmt.Errorf("native session: %w", err)
	}
	return &native{mem: mem, e: e}, nil
}

func (s *native) Reset(context.Context) error { s.e.Reset(); return nil }
func (s *native) Prefill(_ context.Context, t []int32) (int32, error) {
	return guard(func() (int32, error) { return s.e.Prefill(t) })
}
func (s *native) Decode(_ context.Context, t int32) (int32, error) {
	return guard(func() (int32, error) { return s.e.Decode(t) })
}
func (s *native) Pos(context.Context) (int, error) { return s.e.Pos(), nil }
func (s *native) State(context.Context) ([]byte, error) {
	b := s.e.State()
	return s.mem.Bytes()[b.Off : b.Off+b.Len], nil
}
func (s *native) Resume(context.Context) error { return s.e.Resume() }
func (s *native) SetSampling(_ context.Context, t, p float32, seed uint64) error {
	return s.e.SetSampling(t, p, seed)
}
func (s *native) Logits(context.Context) ([]float32, error) { return s.e.Logits(), nil }
func (s *native) HostCalls() uint64                         { return 0 }
func (s *native) Memory() device.Memory                     { return s.mem }
func (s *native) Config() models.Config                     { return s.e.Config() }
func (s *native) Close(context.Context) error {
	return errors.Join(s.e.Close(), s.mem.Close()) // the programs before the memory
}

// guard runs a forward pass with debug.SetPanicOnFault on, so that a kernel
// reading a weights mapping whose file shrank panics instead of killing the
// process, and turns such a panic (or any other from the kernels) into an
// error. A guest session gets the same from runtime/wasm's host calls.
func guard(pass func() (int32, error)) (tok int32, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("native session: %w", device.Recovered(r))
		}
	}()
	return pass()
}

// guestSession is a Session whose engine runs inside a Wasm guest.
type guestSession struct {
	g     *wasm.Guest
	cfg   models.Config
	state device.Span // the engine's state region, which never moves
}

// NewGuest instantiates a guest from rt (whose memory limit must hold
// MemoryBytes), binds the weights and makes its engine.
func NewGuest(ctx context.Context, rt *wasm.Runtime, d device.Device, mode device.Mode, cfg models.Config, w device.Weights, o Options) (Session, error) {
	g, err := rt.Instantiate(ctx, func(max uint64) (device.Memory, error) { return d.NewMemory(mode, max) })
	if err != nil {
		return nil, fmt.Errorf("guest session: %w", err)
	}
	g.Weights = w
	if o.OnGuest != nil {
		o.OnGuest(g)
	}
	s := &guestSession{g: g, cfg: cfg}
	if err := s.init(ctx, o); err != nil {
		g.Close(ctx)
		return nil, fmt.Errorf("guest session: %w", err)
	}
	return s, nil
}

// init makes the guest's engine, readies the exports a restore and a
// decode call and notes where the state region is (so that neither State
// nor the first Resume or Decode pays for a first call into the guest: a
// restore's clock does not count them), and places its pages as o says.
func (s *guestSession) init(ctx context.Context, o Options) error {
	g := s.g
	if err := g.LLMInit(ctx, s.cfg, o.KV, o.MaxSeq, o.MaxBatch); err != nil {
		return err
	}
	if o.Program {
		if err := g.LLMSetProgram(ctx, true); err != nil {
			return err
		}
	}
	if err := g.LLMPrepare(); err != nil {
		return err
	}
	off, n, _, err := g.LLMState(ctx)
	if err != nil {
		return err
	}
	s.state = device.Span{Off: uint64(off), Len: uint64(n)}
	if _, ok := g.Read(off, n); !ok {
		return fmt.Errorf("state region [%d, +%d) is outside the guest's memory", off, n)
	}
	if o.Place == PlaceNone {
		return nil
	}
	kv, dev, err := g.LLMBuffers(ctx)
	if err != nil {
		return err
	}
	return place(g.Memory(), o.Place, kv, dev)
}

func (s *guestSession) Reset(ctx context.Context) error { return s.g.LLMReset(ctx) }
func (s *guestSession) Prefill(ctx context.Context, tokens []int32) (int32, error) {
	return s.g.LLMPrefill(ctx, tokens)
}
func (s *guestSession) Decode(ctx context.Context, token int32) (int32, error) {
	return s.g.LLMDecode(ctx, token)
}
func (s *guestSession) Pos(ctx context.Context) (int, error) { return s.g.LLMPos(ctx) }
func (s *guestSession) State(context.Context) ([]byte, error) {
	b, ok := s.g.Read(uint32(s.state.Off), uint32(s.state.Len))
	if !ok {
		return nil, fmt.Errorf("guest session: state region: %w", wasm.ErrClosed)
	}
	return b, nil
}
func (s *guestSession) Resume(ctx context.Context) error { return s.g.LLMResume(ctx) }
func (s *guestSession) SetSampling(ctx context.Context, t, p float32, seed uint64) error {
	return s.g.LLMSampling(ctx, t, p, seed)
}
func (s *guestSession) Logits(ctx context.Context) ([]float32, error) { return s.g.LLMLogits(ctx) }
func (s *guestSession) HostCalls() uint64                             { return s.g.Calls }
func (s *guestSession) Memory() device.Memory                         { return s.g.Memory() }
func (s *guestSession) Config() models.Config                         { return s.cfg }
func (s *guestSession) Close(ctx context.Context) error               { return s.g.Close(ctx) }
