package tenants

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// Tenant is one conversation in its own sandbox: a guest with its own
// linear memory (token ids, KV cache, activations) over the pool's shared
// weights. Its methods are for one goroutine at a time (the tenant's own),
// except Close, which may be called from another to stop it.
type Tenant struct {
	p    *Pool
	g    *wasm.Guest
	s    llmhost.Session
	next int32 // the token the conversation goes on with, -1 if none

	closeOnce sync.Once
	closeErr  error

	// guarded by p.sched.mu
	ready     bool     // admitted: Admit or Restore returned it
	in        *batch   // the batch its run is in, until it has executed
	key       [32]byte // the program of its last run
	keyed     bool     // it has run a program
	straggler bool     // it missed a batch it was expected in
	gone      bool     // closed
}

// Decode runs one decode step on token inside the tenant's guest and
// returns the next token. The guest's program run joins the pool's current
// batch of runs of its program and returns once that batch has run. A
// failed step (the guest trapped, hit a limit or was stopped) closes the
// tenant, which leaves the pool; its later calls fail.
func (t *Tenant) Decode(ctx context.Context, token int32) (int32, error) {
	next, err := t.s.Decode(ctx, token)
	if err != nil {
		t.Close(context.WithoutCancel(ctx))
		return 0, fmt.Errorf("tenant decode: %w", err)
	}
	t.next = next
	return next, nil
}

// runProgram is the guest's RunProgram: it binds the run at pos on the
// guest's own memory, then hands it to the scheduler.
func (t *Tenant) runProgram(g *wasm.Guest, x *llmabi.Exec, pos int) error {
	size := g.Size()
	calls, err := x.Bind(size, pos)
	if err != nil {
		return err
	}
	return t.p.sched.submit(&run{t: t, x: x, size: size, pos: pos, calls: calls})
}

// Next is the token the conversation goes on with: the first token after
// Admit, the last Decode's result, or the snapshot's next token after
// Restore; -1 if there is none.
func (t *Tenant) Next() int32 { return t.next }

// Pos is the number of tokens in the tenant's KV cache.
func (t *Tenant) Pos(ctx context.Context) (int, error) { return t.s.Pos(ctx) }

// Logits are the logits of the tenant's last forward pass (a view of its
// guest's memory, valid until its next call).
func (t *Tenant) Logits(ctx context.Context) ([]float32, error) { return t.s.Logits(ctx) }

// Memory reports the bytes this tenant holds beyond the shared weights:
// host is its linear memory in use (guest heap, token ids, KV cache,
// activations: every byte of its sandbox) plus any host staging its device
// memory made; device is the device memory allocated for it (0 on the cpu
// device, whose kernels work in the linear memory itself). The pool's
// batch memory is shared and not counted here.
func (t *Tenant) Memory() (host, device uint64) {
	st := t.g.Memory().Stats()
	return t.g.Size() + st.StagingBytes, st.DeviceBytes
}

// Close closes the tenant's guest and releases its memory; it leaves the
// pool. Called from another goroutine while the tenant decodes, it stops
// the step (the Decode returns an error). Closing twice does nothing.
func (t *Tenant) Close(ctx context.Context) error {
	t.closeOnce.Do(func() {
		err := t.s.Close(ctx)
		if errors.Is(err, wasm.ErrClosed) {
			err = nil
		}
		t.closeErr = err
		t.p.sched.remove(t)
	})
	return t.closeErr
}
