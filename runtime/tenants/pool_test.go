package tenants

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// fixture is the Tiny model on the cpu device with a runtime for its guests.
type fixture struct {
	ctx  context.Context
	d    device.Device
	cfg  models.Config
	w    device.Weights
	rt   *wasm.Runtime
	opts Options
}

// newFixture is Tiny (synthetic weights, seed 5) with a 64-token context.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	f, err := makeFixture(models.Tiny(), 5, Options{KV: device.KVBF16, MaxSeq: 64, MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.close)
	return f
}

// makeFixture loads synthetic bf16 weights of cfg on the cpu device and
// makes a runtime whose guests hold an engine sized by opts.
func makeFixture(cfg models.Config, seed uint64, opts Options) (*fixture, error) {
	ctx := context.Background()
	d, _ := cpu.Open()
	mw, err := models.Synthetic(cfg, seed, models.BF16)
	if err != nil {
		return nil, err
	}
	w, err := d.LoadWeights(llm.WeightTensors(mw))
	if err != nil {
		return nil, err
	}
	lo := llmhost.Options{KV: opts.KV, MaxSeq: opts.MaxSeq, MaxBatch: opts.MaxBatch}
	rt, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: llmhost.MemoryBytes(cfg, lo)})
	if err != nil {
		w.Close()
		return nil, err
	}
	return &fixture{ctx: ctx, d: d, cfg: cfg, w: w, rt: rt, opts: opts}, nil
}

func (f *fixture) close() { f.rt.Close(f.ctx); f.w.Close() }

func (f *fixture) pool(t testing.TB, o Options) *Pool {
	t.Helper()
	return f.poolIn(t, device.ZeroCopy, o)
}

func (f *fixture) poolIn(t testing.TB, mode device.Mode, o Options) *Pool {
	t.Helper()
	p, err := NewPool(f.ctx, f.rt, f.d, mode, f.cfg, f.w, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(f.ctx) })
	return p
}

// prompts are distinct prompts of the Tiny model's vocabulary.
func prompts(n int) [][]int32 {
	ps := make([][]int32, n)
	for i := range ps {
		ps[i] = []int32{int32(1 + 37*i%500), int32(99 + 11*i), 7, int32(250 - 3*i), 13}
	}
	return ps
}

// transcript is what a tenant produced: its tokens and the logits after
// each step.
type transcript struct {
	tokens []int32
	logits [][]float32
}

// decodeAll admits one tenant per prompt and decodes steps tokens in each,
// every tenant from its own goroutine, and returns each one's transcript.
func decodeAll(t *testing.T, f *fixture, p *Pool, ps [][]int32, steps int) []transcript {
	t.Helper()
	ts, out := admitAll(t, f, p, ps)
	for i, err := range decodeTenants(f, ts, out, steps) {
		if err != nil {
			t.Fatalf("tenant %d: %v", i, err)
		}
	}
	return out
}

// admitAll admits one tenant per prompt.
func admitAll(t *testing.T, f *fixture, p *Pool, ps [][]int32) ([]*Tenant, []transcript) {
	t.Helper()
	ts := make([]*Tenant, len(ps))
	out := make([]transcript, len(ps))
	for i, pr := range ps {
		tn, first, err := p.Admit(f.ctx, pr)
		if err != nil {
			t.Fatal(err)
		}
		ts[i], out[i].tokens = tn, []int32{first}
	}
	return ts, out
}

// decodeTenants decodes steps tokens in each tenant from its own
// goroutine, recording them in out, and closes each tenant when it is
// done; it returns each tenant's error.
func decodeTenants(f *fixture, ts []*Tenant, out []transcript, steps int) []error {
	var wg sync.WaitGroup
	errs := make([]error, len(ts))
	for i := range ts {
		wg.Go(func() {
			next := out[i].tokens[len(out[i].tokens)-1]
			for range steps {
				var err error
				if next, err = ts[i].Decode(f.ctx, next); err != nil {
					errs[i] = err
					return
				}
				out[i].tokens = append(out[i].tokens, next)
				l, err := ts[i].Logits(f.ctx)
				if err != nil {
					errs[i] = err
					return
				}
				out[i].logits = append(out[i].logits, slices.Clone(l))
			}
			errs[i] = ts[i].Close(f.ctx) // the others do not wait for it any more
		})
	}
	wg.Wait()
	return errs
}

// alone decodes each prompt in a pool of its own.
func alone(t *testing.T, f *fixture, ps [][]int32, steps int) []transcript {
	t.Helper()
	var out []transcript
	for _, pr := range ps {
		p := f.pool(t, f.opts)
		out = append(out, decodeAll(t, f, p, [][]int32{pr}, steps)...)
		if st := p.Stats(); st.Sizes[1] != uint64(steps) || st.Batches != uint64(steps) {
			t.Fatalf("alone: stats %+v, want %d batches of one", st, steps)
		}
	}
	return out
}

// compare checks got against want: tokens equal, logits within the
// tolerance; it returns the largest relative logit difference.
func compare(t *testing.T, what string, got, want transcript) float64 {
	t.Helper()
	if !slices.Equal(got.tokens, want.tokens) {
		t.Errorf("%s: tokens %v, alone %v", what, got.tokens, want.tokens)
	}
	worst := 0.0
	for s := range min(len(got.logits), len(want.logits)) {
		scale := 0.0
		for _, v := range want.logits[s] {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for i, v := range got.logits[s] {
			d := math.Abs(float64(v)-float64(want.logits[s][i])) / scale
			if math.IsNaN(d) || d > LogitTolerance {
				t.Errorf("%s: step %d logit %d is %g, alone %g", what, s, i, v, want.logits[s][i])
				return d
			}
			worst = math.Max(worst, d)
		}
	}
	return worst
}

// TestBatchedEqualsAlone: N tenants decoding together in batches give the
// tokens each gives alone, and logits within the tolerance.
func TestBatchedEqualsAlone(t *testing.T) {
	f := newFixture(t)
	const steps = 12
	ps := prompts(8)
	want := alone(t, f, ps, steps)
	for _, c := range []struct {
		n    int
		mode device.Mode
	}{{1, device.ZeroCopy}, {2, device.ZeroCopy}, {3, device.ZeroCopy}, {8, device.ZeroCopy}, {3, device.Copy}} {
		n := c.n
		t.Run(fmt.Sprintf("%s/%d", c.mode, n), func(t *testing.T) {
			o := f.opts
			o.MaxWait = time.Minute // batches close when every tenant has joined
			p := f.poolIn(t, c.mode, o)
			got := decodeAll(t, f, p, ps[:n], steps)
			worst := 0.0
			for i := range got {
				worst = math.Max(worst, compare(t, fmt.Sprintf("tenant %d of %d", i, n), got[i], want[i]))
			}
			st := p.Stats()
			t.Logf("N=%d: largest logit difference %.2g of the largest logit; stats %+v", n, worst, st)
			if st.Steps != uint64(n*steps) || st.Failed != 0 {
				t.Errorf("stats %+v: want %d steps, none failed", st, n*steps)
			}
			// Every tenant is admitted before any decodes, and MaxWait is
			// long: every batch holds them all.
			if st.Sizes[n] != steps {
				t.Errorf("stats %+v: want %d batches of all %d tenants", st, steps, n)
			}
		})
	}
}

// TestNewPoolRefuses: a pool the device or runtime cannot hold is refused
// naming the problem, and a pool holds at most MaxTenants tenants.
func TestNewPoolRefuses(t *testing.T) {
	f := newFixture(t)
	small, err := wasm.New(f.ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close(f.ctx)
	for _, c := range []struct {
		name string
		rt   *wasm.Runtime
		mode device.Mode
		o    Options
		want string
	}{
		{"resident", f.rt, device.Resident, f.opts, "resident"},
		{"small memory", small, device.ZeroCopy, f.opts, "limit"},
		{"negative MaxTenants", f.rt, device.ZeroCopy, Options{MaxSeq: 64, MaxBatch: 8, MaxTenants: -1}, "MaxTenants"},
		{"no runtime", nil, device.ZeroCopy, f.opts, "required"},
	} {
		p, err := NewPool(f.ctx, c.rt, f.d, c.mode, f.cfg, f.w, c.o)
		if err == nil {
			p.Close(f.ctx)
			t.Errorf("%s: a pool was made", c.name)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
	o := f.opts
	o.MaxTenants = 2
	p := f.pool(t, o)
	for i := range 3 {
		tn, _, err := p.Admit(f.ctx, []int32{1, 2, 3})
		if i < 2 && err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if err == nil || !strings.Contains(err.Error(), "MaxTenants") {
				t.Fatalf("third tenant of two: %v", err)
			}
			continue
		}
		defer tn.Close(f.ctx)
	}
}

// TestArrivals: tenants admitted while others decode (each tenant, after
// its second step, waits until the next has been admitted, so every
// arrival lands among decoding tenants) join their batches, and every
// tenant's tokens equal its tokens alone.
func TestArrivals(t *testing.T) {
	f := newFixture(t)
	const n, steps = 5, 12
	ps := prompts(n)
	want := alone(t, f, ps, steps)
	o := f.opts
	o.MaxWait = time.Minute
	p := f.pool(t, o)
	out := make([]transcript, n)
	errs := make([]error, n)
	admitted := make([]chan struct{}, n+1)
	for i := range admitted {
		admitted[i] = make(chan struct{})
	}
	close(admitted[n]) // the last one waits for nobody
	var wg sync.WaitGroup
	for i := range n {
		tn, first, err := p.Admit(f.ctx, ps[i])
		if err != nil {
			t.Fatal(err)
		}
		close(admitted[i])
		out[i].tokens = []int32{first}
		wg.Go(func() {
			defer tn.Close(f.ctx)
			next := first
			for s := range steps {
				if s == 2 {
					<-admitted[i+1]
				}
				if next, errs[i] = tn.Decode(f.ctx, next); errs[i] != nil {
					return
				}
				l, err := tn.Logits(f.ctx)
				if err != nil {
					errs[i] = err
					return
				}
				out[i].tokens, out[i].logits = append(out[i].tokens, next), append(out[i].logits, slices.Clone(l))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("tenant %d: %v", i, err)
		}
		compare(t, fmt.Sprintf("tenant %d", i), out[i], want[i])
	}
	st := p.Stats()
	t.Logf("stats %+v", st)
	if st.Steps != n*steps || st.Failed != 0 || st.Batches >= st.Steps || st.TimedOut != 0 {
		t.Errorf("stats %+v: want %d steps in batches, none failed or timed out", st, n*steps)
	}
}
