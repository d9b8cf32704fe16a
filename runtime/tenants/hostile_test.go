package tenants

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// hostile is a tenant played by the test: the real guest, driven through
// its raw exports (raw_program_submit/run, llm_raw, alloc) as a hostile
// guest's own code would call the host.
type hostile struct {
	t     *Tenant
	words []uint32 // the honest token step's program, captured at its first run
	pos   int      // the position of the captured run
}

// capture makes the tenant's next program run record its program's words.
func (h *hostile) capture() {
	run := h.t.g.RunProgram
	h.t.g.RunProgram = func(g *wasm.Guest, x *llmabi.Exec, pos int) error {
		if h.words == nil {
			h.words, h.pos = x.Program().Encode(), pos
		}
		return run(g, x, pos)
	}
}

// submit writes words into the guest's memory and submits them as a
// program, as a guest would.
func (h *hostile) submit(ctx context.Context, words []uint32) (uint32, error) {
	g := h.t.g
	res, err := g.Call(ctx, "alloc", uint64(4*len(words)))
	if err != nil {
		return 0, err
	}
	b, ok := g.Read(uint32(res[0]), uint32(4*len(words)))
	if !ok {
		return 0, errors.New("alloc returned a buffer outside the guest's memory")
	}
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	res, err = g.Call(ctx, "raw_program_submit", res[0], uint64(len(b)))
	if err != nil {
		return 0, err
	}
	return uint32(res[0]), nil
}

// run runs program handle at pos, as the guest's own llm_program_run.
func (h *hostile) run(ctx context.Context, handle uint32, pos int) error {
	_, err := h.t.g.Call(ctx, "raw_program_run", uint64(handle), uint64(pos))
	return err
}

// callAt returns the calls of the captured program bound at pos on the
// hostile tenant's memory, and the index of its first call of op.
func (h *hostile) callAt(f *fixture, pos int, op llmabi.Op) ([]llmabi.Call, int, error) {
	p, err := llmabi.DecodeProgram(h.words)
	if err != nil {
		return nil, 0, err
	}
	x, err := llmabi.NewExec(p, h.t.g.Memory().(device.LLMOps), h.t.g.Size(), f.w, 0)
	if err != nil {
		return nil, 0, err
	}
	defer x.Close()
	calls, err := x.Bind(h.t.g.Size(), pos)
	if err != nil {
		return nil, 0, err
	}
	for i := range calls {
		if calls[i].Op == op {
			return append([]llmabi.Call(nil), calls...), i, nil
		}
	}
	return nil, 0, fmt.Errorf("the step has no %s", op)
}

// submitWith submits the captured program with call i replaced by c.
func (h *hostile) submitWith(ctx context.Context, i int, c llmabi.Call) (uint32, error) {
	p, err := llmabi.DecodeProgram(h.words)
	if err != nil {
		return 0, err
	}
	p.Calls[i] = c
	return h.submit(ctx, p.Encode())
}

// TestHostileTenant: a hostile tenant batched with honest ones — a program
// reaching outside its memory, a run past its caches, a bad token id in its
// rows of a batched call, a different program, never decoding, a call past
// its deadline, exhausting its memory — fails or waits alone: every honest
// tenant's tokens equal its tokens alone (logits within the tolerance), no
// honest step fails, and the batches go on.
func TestHostileTenant(t *testing.T) {
	f := newFixture(t)
	const steps = 6
	ps := prompts(4) // three honest tenants, the hostile one's prompt last
	want := alone(t, f, ps[:3], steps)
	const joins, stalls = time.Minute, 200 * time.Millisecond
	cases := []struct {
		name    string
		maxWait time.Duration // long where the hostile joins batches, short where it stalls them
		limits  wasm.Limits
		act     func(ctx context.Context, h *hostile) error // the hostile's acts; its error, if it must fail
		wantErr string
		check   func(t *testing.T, st Stats)
	}{
		{
			name: "range outside its memory", maxWait: joins, wantErr: "outside",
			act: func(ctx context.Context, h *hostile) error {
				calls, i, err := h.callAt(f, 0, llmabi.OpEmbed)
				if err != nil {
					return fmt.Errorf("test: %w", err)
				}
				c := calls[i]
				c.S[1].Off = h.t.g.Size() // where a neighbour's memory would begin, were memories side by side
				_, err = h.submitWith(ctx, i, c)
				return err
			},
		},
		{
			name: "run past its caches", maxWait: joins, wantErr: "position",
			act: func(ctx context.Context, h *hostile) error {
				handle, err := h.submit(ctx, h.words)
				if err != nil {
					return fmt.Errorf("honest program refused: %w", err)
				}
				return h.run(ctx, handle, f.opts.MaxSeq+3)
			},
		},
		{
			name: "bad token in a batched call", maxWait: joins, wantErr: "token",
			act: func(ctx context.Context, h *hostile) error {
				handle, err := h.submit(ctx, h.words)
				if err != nil {
					return fmt.Errorf("honest program refused: %w", err)
				}
				pos := h.pos + 1
				calls, i, err := h.callAt(f, pos, llmabi.OpEmbed)
				if err != nil {
					return fmt.Errorf("test: %w", err)
				}
				b, _ := h.t.g.Read(uint32(calls[i].S[0].Off), 4)
				binary.LittleEndian.PutUint32(b, 1<<30) // its own token slot: data no argument check sees
				return h.run(ctx, handle, pos)
			},
			check: func(t *testing.T, st Stats) {
				if st.Apart["error"] == 0 || st.Failed == 0 {
					t.Errorf("stats %+v: want a batched call run apart after an error, and a failed run", st)
				}
			},
		},
		{
			name: "a different program", maxWait: joins,
			act: func(ctx context.Context, h *hostile) error {
				calls, i, err := h.callAt(f, 0, llmabi.OpNormLinear)
				if err != nil {
					return fmt.Errorf("test: %w", err)
				}
				c := calls[i]
				c.F *= 2 // its eps: a valid program, not the others'
				handle, err := h.submitWith(ctx, i, c)
				if err != nil {
					return fmt.Errorf("valid program refused: %w", err)
				}
				// Once the honest tenants wait for it in their batch.
				if err := waitOpen(ctx, h.t.p, 3); err != nil {
					return err
				}
				return h.run(ctx, handle, h.pos+1)
			},
			check: func(t *testing.T, st Stats) {
				if st.Alone["program"] == 0 {
					t.Errorf("stats %+v: want a run alone for its program", st)
				}
			},
		},
		{
			name: "never decodes again", maxWait: stalls,
			act: func(ctx context.Context, h *hostile) error {
				time.Sleep(5 * stalls) // admitted, ready, silent
				return nil
			},
			check: func(t *testing.T, st Stats) {
				if st.TimedOut == 0 {
					t.Errorf("stats %+v: want a batch that went on without the silent tenant", st)
				}
			},
		},
		{
			name: "a call past its deadline", maxWait: stalls, limits: wasm.Limits{CallTimeout: time.Second}, wantErr: "CallTimeout",
			act: func(ctx context.Context, h *hostile) error {
				return longAttention(ctx, h.t.g)
			},
		},
		{
			name: "exhausts its memory", maxWait: stalls, wantErr: "unreachable", // the guest's Go runtime aborts
			act: func(ctx context.Context, h *hostile) error {
				_, err := h.t.g.Call(ctx, "alloc", math.MaxUint32)
				if err == nil {
					return errors.New("a 4 GiB alloc succeeded")
				}
				return err
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := f.opts
			o.MaxWait, o.Limits = tc.maxWait, tc.limits
			p := f.pool(t, o)
			ts, out := admitAll(t, f, p, ps)
			h := &hostile{t: ts[3]}
			h.capture()
			// The hostile tenant decodes one honest step (its program is
			// captured), then acts, then leaves.
			var hostileErr error
			var wg sync.WaitGroup
			wg.Go(func() {
				defer h.t.Close(f.ctx)
				if _, err := h.t.Decode(f.ctx, out[3].tokens[0]); err != nil {
					hostileErr = fmt.Errorf("honest first step: %w", err)
					return
				}
				hostileErr = tc.act(f.ctx, h)
			})
			errs := decodeTenants(f, ts[:3], out[:3], steps)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("honest tenant %d: %v", i, err)
				}
				compare(t, fmt.Sprintf("honest tenant %d", i), out[i], want[i])
			}
			switch {
			case tc.wantErr == "":
				if hostileErr != nil {
					t.Errorf("hostile tenant: %v", hostileErr)
				}
			case hostileErr == nil:
				t.Errorf("hostile tenant: no error, want one saying %q", tc.wantErr)
			case !strings.Contains(hostileErr.Error(), tc.wantErr):
				t.Errorf("hostile tenant: %v, want an error saying %q", hostileErr, tc.wantErr)
			}
			st := p.Stats()
			t.Logf("hostile: %v; stats %+v", hostileErr, st)
			if tc.check != nil {
				tc.check(t, st)
			}
		})
	}
}

// longAttention runs, through the guest's llm_raw, one attention call of
// 32768 queries (Tiny's shape, seconds of both cores) in the guest's own
// memory: a long host call that only its deadline ends.
func longAttention(ctx context.Context, g *wasm.Guest) error {
	const n, heads, kvHeads, headDim = 32768, 4, 2, 16
	qLen, cLen := uint32(4*n*heads*headDim), uint32(n*kvHeads*headDim*2)
	res, err := g.Call(ctx, "alloc", uint64(2*qLen+2*cLen))
	if err != nil {
		return err
	}
	q := uint32(res[0])
	k, v := q+qLen, q+qLen+cLen
	out := v + cLen
	args := []uint32{q, qLen, k, cLen, v, cLen, out, qLen, 1, n, 0, heads, kvHeads, headDim}
	res, err = g.Call(ctx, "llm_raw_args")
	if err != nil {
		return err
	}
	b, ok := g.Read(uint32(res[0]), uint32(4*len(args)))
	if !ok {
		return errors.New("llm_raw_args is outside the guest's memory")
	}
	for i, a := range args {
		binary.LittleEndian.PutUint32(b[4*i:], a)
	}
	_, err = g.Call(ctx, "llm_raw", uint64(llmabi.OpAttention))
	return err
}

// waitOpen waits until an open batch of p holds n runs.
func waitOpen(ctx context.Context, p *Pool, n int) error {
	for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(time.Millisecond) {
		p.sched.mu.Lock()
		for _, b := range p.sched.open {
			if len(b.runs) == n {
				p.sched.mu.Unlock()
				return nil
			}
		}
		p.sched.mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("no open batch of %d runs within a minute", n)
}
