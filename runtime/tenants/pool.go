package tenants

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// Options configure a Pool and every tenant's engine.
type Options struct {
	// KV is the KV cache element type ("" = bf16).
	KV device.KVDType
	// MaxSeq is each tenant's context length in tokens.
	MaxSeq int
	// MaxBatch is the tokens of one prefill pass (the prompt's chunk).
	MaxBatch int
	// MaxWait is the longest a ready decode step waits for other tenants
	// to join its batch. Zero means DefaultMaxWait; a negative value turns
	// batching off: every run executes at once, alone, as in a pool of one
	// (a baseline to compare with).
	MaxWait time.Duration
	// MaxTenants is the most tenants the pool holds at once, and so the
	// largest batch. Zero means DefaultMaxTenants.
	MaxTenants int
	// Limits bound each tenant's guest (wasm.Limits; zero fields take the
	// defaults); the zero value keeps the runtime's own.
	Limits wasm.Limits
	// Place says where a new tenant's pages go before first use.
	Place llmhost.Placement
	// Fingerprint identifies the model in snapshots (snapshot.Meta); ""
	// means "cfg:" + the config's hash.
	Fingerprint string
}

// The defaults of Options.
const (
	// DefaultMaxWait is short against a decode step (about 60 ms for Llama
	// 3.2 1B on the cpu device, about 1 ms on an H200) and long against the
	// time a tenant decoding in a loop takes to come back (microseconds).
	DefaultMaxWait = 2 * time.Millisecond
	// DefaultMaxTenants is the largest tenant count of the experiment.
	DefaultMaxTenants = 64
)

// Pool runs tenants of one model on one device, sharing its weights, and
// batches their decode steps (see the package doc). Its methods are safe
// for concurrent use.
type Pool struct {
	rt     *wasm.Runtime
	dev    device.Device
	mode   device.Mode
	cfg    models.Config
	w      device.Weights
	o      Options
	engine llmhost.Options

	scratch device.Memory // the batch memory
	sched   scheduler
}

// NewPool makes a pool of tenants of cfg with the weights w (loaded once on
// d, shared by every tenant) whose guests come from rt, each with a linear
// memory of mode on d (not device.Resident, whose kernels work on a mirror
// of the memory). rt's memory limit must hold a tenant's engine
// (llmhost.MemoryBytes). The pool owns neither rt nor w.
func NewPool(ctx context.Context, rt *wasm.Runtime, d device.Device, mode device.Mode, cfg models.Config, w device.Weights, o Options) (*Pool, error) {
	if rt == nil || d == nil || w == nil {
		return nil, errors.New("tenant pool: runtime, device and weights are required")
	}
	if mode == device.Resident {
		// Its kernels run on a device mirror that the host's gather and
		// scatter (llmabi.Batch) would not see.
		return nil, errors.New("tenant pool: memory mode resident is not a sandbox mode: use copy, zerocopy, mapped or managed")
	}
	if o.MaxWait == 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.MaxTenants == 0 {
		o.MaxTenants = DefaultMaxTenants
	}
	if o.MaxTenants < 0 {
		return nil, fmt.Errorf("tenant pool: MaxTenants %d is negative", o.MaxTenants)
	}
	if o.Fingerprint == "" {
		o.Fingerprint = "cfg:" + cfg.Hash()
	}
	if o.Limits != (wasm.Limits{}) {
		rt = rt.WithLimits(o.Limits)
	}
	engine := llmhost.Options{KV: o.KV, MaxSeq: o.MaxSeq, MaxBatch: o.MaxBatch, Place: o.Place, Program: true}
	if need := llmhost.MemoryBytes(cfg, engine); need > rt.MaxMemory() {
		return nil, fmt.Errorf("tenant pool: a tenant needs %d bytes of memory, more than the runtime's limit of %d", need, rt.MaxMemory())
	}
	size := scratchBytes(cfg, o.MaxTenants)
	scratch, err := d.NewMemory(mode, size)
	if err != nil {
		return nil, fmt.Errorf("tenant pool: batch memory of %d bytes: %w", size, err)
	}
	b, err := llmabi.NewBatch(scratch, w)
	if err != nil {
		scratch.Close()
		return nil, fmt.Errorf("tenant pool: %w", err)
	}
	p := &Pool{rt: rt, dev: d, mode: mode, cfg: cfg, w: w, o: o, engine: engine, scratch: scratch}
	p.sched.init(o.MaxWait, o.MaxTenants, b)
	return p, nil
}

// scratchBytes sizes the batch memory: every row-wise call of a decode
// step for max tenants, the widest (the head: x, its norm and the logits)
// with room to spare, in whole 64 KiB pages.
func scratchBytes(cfg models.Config, tenants int) uint64 {
	perToken := uint64(4 * (4*cfg.HiddenSize + 3*cfg.IntermediateSize + cfg.VocabSize + 2*cfg.NumAttentionHeads*cfg.HeadDim))
	total := uint64(max(tenants, 1))*perToken + 1<<20
	return (total + 0xffff) &^ 0xffff
}

// Admit makes a tenant — a fresh guest with its own memory and engine —
// and prefills prompt; it returns the tenant and the first token it
// predicts (the token its first Decode takes). It fails when the pool
// holds MaxTenants tenants.
func (p *Pool) Admit(ctx context.Context, prompt []int32) (*Tenant, int32, error) {
	t, err := p.newTenant(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("admit: %w", err)
	}
	next, err := t.s.Prefill(ctx, prompt)
	if err != nil {
		t.Close(ctx)
		return nil, 0, fmt.Errorf("admit: prefill: %w", err)
	}
	t.next = next
	p.sched.admitted(t)
	return t, next, nil
}

// Restore makes a tenant from the snapshot at snapshotPath (one a
// Tenant.Snapshot wrote): a fresh guest whose state region receives the
// snapshot, its engine resumed there. Its conversation goes on with
// Tenant.Next. A snapshot refused (another model, corrupt, truncated)
// leaves no tenant behind.
func (p *Pool) Restore(ctx context.Context, snapshotPath string) (*Tenant, error) {
	t, err := p.newTenant(ctx)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", snapshotPath, err)
	}
	if err := t.restore(ctx, snapshotPath); err != nil {
		t.Close(ctx)
		return nil, fmt.Errorf("restore %s: %w", snapshotPath, err)
	}
	p.sched.admitted(t)
	return t, nil
}

// newTenant instantiates a guest session whose program runs go to the
// scheduler and registers it.
func (p *Pool) newTenant(ctx context.Context) (*Tenant, error) {
	t := &Tenant{p: p, next: -1}
	if err := p.sched.add(t); err != nil {
		return nil, err
	}
	o := p.engine
	o.OnGuest = func(g *wasm.Guest) {
		t.g = g
		g.RunProgram = t.runProgram
	}
	s, err := llmhost.NewGuest(ctx, p.rt, p.dev, p.mode, p.cfg, p.w, o)
	if err != nil {
		p.sched.remove(t)
		return nil, err
	}
	t.s = s
	return t, nil
}

// Stats are the scheduler's counts so far.
func (p *Pool) Stats() Stats { return p.sched.stats() }

// Close closes every tenant and releases the batch memory. The runtime and
// the weights are the caller's.
func (p *Pool) Close(ctx context.Context) error {
	var errs []error
	for _, t := range p.sched.all() {
		errs = append(errs, t.Close(ctx))
	}
	p.sched.mu.Lock()
	if !p.sched.closed {
		p.sched.closed = true
		p.sched.exec.Lock() // no batch runs on the batch memory now
		errs = append(errs, p.scratch.Close())
		p.sched.exec.Unlock()
	}
	p.sched.mu.Unlock()
	return errors.Join(errs...)
}
