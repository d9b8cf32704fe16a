package tenants

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/cpuload"
	"github.com/wasmgpu/wasmgpu/internal/rss"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/results"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/tenants"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// runner is one run of the experiment: the plan and what every case
// shares.
type runner struct {
	env     *experiments.Env
	p       Plan
	cfg     models.Config
	w       device.Weights
	rt      *wasm.Runtime
	prompts [][]int32
	snaps   string // folder of the evicted tenants' snapshot files
	done    int
	total   int
}

// Run executes the spec on env's device: it refuses a plan the device's
// memory cannot hold before loading anything, then per memory mode decodes
// each distinct prompt alone (the reference tokens), runs N = 1 through the
// single-guest path, and each N through a pool.
func Run(ctx context.Context, env *experiments.Env, s *Spec) (*results.File, error) {
	p, err := s.Plan(env.Device.Info().Backend, env.Quick, env.Overrides)
	if err != nil {
		return nil, err
	}
	budget, known := DeviceBudget(env.Device)
	if known {
		if err := p.CheckMemory(budget); err != nil {
			return nil, err
		}
	}
	f, vs, model, err := env.StartLLM("tenants", p.LLMPlan, nil, p.WasmModes)
	if err != nil {
		return nil, err
	}
	defer model.Close()
	if !known {
		f.Notes = append(f.Notes, "the device reports no memory size: the plan was not checked against it")
	}
	if cfg := model.Host.Config; cfg.Hash() != p.Config.Hash() || model.Host.DType != p.WeightsDType {
		// A -model folder's own architecture and dtype size the guests
		// and the weights: check again.
		p.Config, p.WeightsDType = cfg, model.Host.DType
		if known {
			if err := p.CheckMemory(budget); err != nil {
				return nil, fmt.Errorf("%s: %w", env.ModelDir, err)
			}
		}
	}
	r := &runner{env: env, p: p, cfg: model.Host.Config, w: model.Device}
	r.rt, err = wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: p.GuestBytes(), CacheDir: env.CacheDir})
	if err != nil {
		return nil, err
	}
	defer r.rt.Close(ctx)
	if r.snaps, err = os.MkdirTemp(env.TempDir, "tenants-snapshots-"); err != nil {
		return nil, fmt.Errorf("tenants: snapshot folder: %w", err)
	}
	defer os.RemoveAll(r.snaps)
	for k := range p.Prompts {
		r.prompts = append(r.prompts, experiments.PromptIDs(p.Seed+uint64(k), p.PromptTokens, r.cfg.VocabSize))
	}
	sum := 0
	for _, n := range p.Tenants {
		sum += n
	}
	r.total = len(vs.Wasm) * (p.Prompts + p.Repetitions*(1+sum))

	r.provenance(f, model)
	for _, mode := range vs.Wasm {
		cases, failures, err := r.mode(ctx, mode)
		if err != nil {
			return nil, fmt.Errorf("tenants %s: %w", mode, err)
		}
		f.Cases = append(f.Cases, cases...)
		f.Failures = append(f.Failures, failures...)
	}
	AddSpeedups(f)
	if peak, err := rss.Peak(); err == nil {
		f.Provenance.SetNumber("peak_rss_bytes", float64(peak))
	}
	if p.PromptTokens != 128 || p.DecodeTokens != 128 {
		f.Notes = append(f.Notes, fmt.Sprintf("each tenant prefilled %d tokens and decoded %d: issue 16's targets are for 128 and 128 on the H200 (the spec's %s profile reduces them)",
			p.PromptTokens, p.DecodeTokens, env.Device.Info().Backend))
	}
	return f, nil
}

// provenance records the plan's facts in f.
func (r *runner) provenance(f *results.File, m *experiments.Model) {
	p := r.p
	for k, v := range map[string]float64{
		"weights_bytes":           float64(m.Host.Bytes()),
		"weights_device_bytes":    float64(m.Device.DeviceBytes()),
		"guest_memory_max_bytes":  float64(p.GuestBytes()),
		"kv_bytes_per_tenant":     float64(r.cfg.KVBytesPerToken(p.KV.Size()) * int64(p.MaxSeq)),
		"max_seq":                 float64(p.MaxSeq),
		"max_batch":               float64(p.MaxBatch),
		"max_wait_ms":             p.MaxWaitMS,
		"prompt_tokens":           float64(p.PromptTokens),
		"decode_tokens":           float64(p.DecodeTokens),
		"distinct_prompts":        float64(p.Prompts),
		"repetitions_incl_warmup": float64(p.Repetitions),
	} {
		f.Provenance.SetNumber(k, v)
	}
	arrival := p.Arrival.Process
	if p.Arrival.Process == ArrivalPoisson {
		arrival = fmt.Sprintf("poisson %g tenants/s (seed %d)", p.Arrival.Rate, p.Seed)
	}
	f.Provenance.SetExtra("arrival", arrival)
	eviction := "none"
	if e := p.Eviction; e.Fraction > 0 {
		eviction = fmt.Sprintf("%g of the tenants, after %d of %d tokens, away %gms", e.Fraction, e.AfterTokens(p.DecodeTokens), p.DecodeTokens, e.IdleMS)
	}
	f.Provenance.SetExtra("eviction", eviction)
	f.Provenance.SetExtra("tenants", fmt.Sprint(p.Tenants))
}

// options are the pool's options for a case of n tenants: max_wait_ms 0
// turns batching off (tenants.Options.MaxWait < 0: every step alone, the
// baseline), as its zero value would mean the pool's default.
func (r *runner) options(n int) tenants.Options {
	wait := time.Duration(r.p.MaxWaitMS * float64(time.Millisecond))
	if wait == 0 {
		wait = -1
	}
	return tenants.Options{KV: r.p.KV, MaxSeq: r.p.MaxSeq, MaxBatch: r.p.MaxBatch, MaxWait: wait, MaxTenants: n, Place: llmhost.PlaceForPrefill}
}

// tick advances the progress by one conversation.
func (r *runner) tick(what string) {
	r.done++
	r.env.Tick(r.done, r.total, what)
}

// mode runs every case of one memory mode.
func (r *runner) mode(ctx context.Context, mode device.Mode) ([]results.Case, []results.Failure, error) {
	variant := "wasm-" + string(mode)
	ck, err := r.references(ctx, mode)
	if err != nil {
		return nil, nil, fmt.Errorf("reference decode: %w", err)
	}
	defer ck.pool.Close(ctx)
	var cases []results.Case
	var failures []results.Failure
	single, err := r.single(ctx, mode, variant+SingleSuffix)
	if err != nil {
		return nil, nil, fmt.Errorf("single guest: %w", err)
	}
	cs, fs, err := r.judge(ctx, single, ck)
	if err != nil {
		return nil, nil, err
	}
	cases, failures = append(cases, cs...), append(failures, fs...)
	for _, n := range r.p.Tenants {
		cr, err := r.pooled(ctx, mode, variant, n)
		if err != nil {
			return nil, nil, fmt.Errorf("%d tenants: %w", n, err)
		}
		cs, fs, err := r.judge(ctx, cr, ck)
		if err != nil {
			return nil, nil, fmt.Errorf("%d tenants: %w", n, err)
		}
		cases, failures = append(cases, cs...), append(failures, fs...)
	}
	return cases, failures, nil
}

// references decodes each distinct prompt by a tenant alone in a pool of
// one: the tokens every tenant of that prompt is checked against. The
// returned checker keeps the pool for replays; the caller closes it.
func (r *runner) references(ctx context.Context, mode device.Mode) (*checker, error) {
	pool, err := tenants.NewPool(ctx, r.rt, r.env.Device, mode, r.cfg, r.w, r.options(1))
	if err != nil {
		return nil, err
	}
	ck := &checker{pool: pool, seen: map[string]verdict{}}
	for k, prompt := range r.prompts {
		toks, err := decodeAlone(ctx, pool, prompt, r.p.DecodeTokens)
		if err != nil {
			pool.Close(ctx)
			return nil, fmt.Errorf("prompt %d: %w", k, err)
		}
		ck.refs = append(ck.refs, toks)
		r.tick(fmt.Sprintf("%s reference %d", mode, k))
	}
	return ck, nil
}

// decodeAlone admits prompt into pool and decodes n tokens: the first
// token and the n decoded ones.
func decodeAlone(ctx context.Context, pool *tenants.Pool, prompt []int32, n int) (toks []int32, err error) {
	t, tok, err := pool.Admit(ctx, prompt)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := t.Close(ctx); cerr != nil && err == nil {
			err = cerr
		}
	}()
	toks = []int32{tok}
	for range n {
		if tok, err = t.Decode(ctx, tok); err != nil {
			return nil, err
		}
		toks = append(toks, tok)
	}
	return toks, nil
}

// single runs N = 1 through the single-guest path (llmhost.NewGuest with
// the token step as one program, as the llama experiment's
// wasm-<mode>-program variant): the control for "N = 1 no slower". Each
// repetition instantiates a fresh guest, as a pool's admission does, so
// both admissions are instantiate + prefill.
func (r *runner) single(ctx context.Context, mode device.Mode, variant string) (*caseResult, error) {
	cr := &caseResult{tenants: 1, variant: variant}
	var load cpuload.Sample
	for rep := range r.p.Repetitions {
		if rep == 1 {
			load = cpuload.Now()
		}
		c, err := r.singleConversation(ctx, mode)
		if err != nil {
			return nil, err
		}
		cr.reps = append(cr.reps, &repetition{convs: []*conversation{c}})
		r.tick(fmt.Sprintf("%s N=1 single guest", mode))
	}
	cr.others = cpuload.Others(load, cpuload.Now())
	return cr, nil
}

// singleConversation is one repetition of the single-guest control.
func (r *runner) singleConversation(ctx context.Context, mode device.Mode) (c *conversation, err error) {
	start := time.Now()
	s, err := llmhost.NewGuest(ctx, r.rt, r.env.Device, mode, r.cfg, r.w,
		llmhost.Options{KV: r.p.KV, MaxSeq: r.p.MaxSeq, MaxBatch: r.p.MaxBatch, Place: llmhost.PlaceForPrefill, Program: true})
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := s.Close(ctx); cerr != nil && err == nil {
			err = cerr
		}
	}()
	c = &conversation{}
	tok, err := s.Prefill(ctx, r.prompts[0])
	if err != nil {
		return nil, fmt.Errorf("prefill: %w", err)
	}
	c.admitted = experiments.Elapsed(start)
	c.tokens = []int32{tok}
	c.hostMem = s.Memory().Size()
	prev := c.admitted
	for range r.p.DecodeTokens {
		if tok, err = s.Decode(ctx, tok); err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		now := experiments.Elapsed(start)
		c.stamps, c.gaps, c.tokens = append(c.stamps, now), append(c.gaps, now-prev), append(c.tokens, tok)
		prev = now
	}
	return c, nil
}

// pooled runs the case of n tenants in a pool: every repetition admits n
// fresh tenants at the arrival process's times.
func (r *runner) pooled(ctx context.Context, mode device.Mode, variant string, n int) (cr *caseResult, err error) {
	pool, err := tenants.NewPool(ctx, r.rt, r.env.Device, mode, r.cfg, r.w, r.options(n))
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := pool.Close(ctx); cerr != nil && err == nil {
			err = cerr
		}
	}()
	cr = &caseResult{tenants: n, variant: variant}
	var load cpuload.Sample
	for rep := range r.p.Repetitions {
		if rep == 1 {
			load = cpuload.Now()
		}
		before := pool.Stats()
		rp, err := r.repetition(ctx, pool, mode, n, rep)
		if err != nil {
			return nil, err
		}
		rp.batches, rp.alone, rp.timedOut = batchesSince(before, pool.Stats())
		cr.reps = append(cr.reps, rp)
	}
	cr.others = cpuload.Others(load, cpuload.Now())
	return cr, nil
}

// arrivals are the n tenants' admission times: all at 0 for a closed
// start, else a Poisson process from a generator seeded by the spec's seed,
// n and the repetition (the first tenant arrives at 0).
func (p Plan) arrivals(n, rep int) []time.Duration {
	out := make([]time.Duration, n)
	if p.Arrival.Process != ArrivalPoisson {
		return out
	}
	g := rand.New(rand.NewPCG(p.Seed, uint64(n)<<32|uint64(rep)))
	var t float64
	for i := 1; i < n; i++ {
		t += g.ExpFloat64() / p.Arrival.Rate
		out[i] = time.Duration(t * float64(time.Second))
	}
	return out
}

// repetition admits n tenants into pool and lets each decode from its own
// goroutine. A tenant that fails ends alone (its error is kept); the
// context's end ends the repetition.
func (r *runner) repetition(ctx context.Context, pool *tenants.Pool, mode device.Mode, n, rep int) (*repetition, error) {
	arrive := r.p.arrivals(n, rep)
	rp := &repetition{convs: make([]*conversation, n)}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range n {
		c := &conversation{tenant: i, prompt: i % len(r.prompts), arrive: arrive[i], evicted: r.p.Eviction.Fraction > 0 && r.p.Eviction.Evicted(i)}
		rp.convs[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.err = r.converse(ctx, pool, c, start, fmt.Sprintf("n%d-r%d-t%d.safetensors", n, rep, i))
			mu.Lock()
			r.tick(fmt.Sprintf("%s N=%d", mode, n))
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return rp, nil
}

// converse is one tenant's life: wait for its arrival, admission by
// prefill, decode_tokens decode steps (with, if it is evicted, a snapshot,
// an absence and a restore into a fresh instance part-way), close.
func (r *runner) converse(ctx context.Context, pool *tenants.Pool, c *conversation, start time.Time, snapName string) (err error) {
	if err := sleepUntil(ctx, start.Add(c.arrive)); err != nil {
		return err
	}
	since := func() time.Duration { return experiments.Elapsed(start) }
	c.arrive = since()
	t, tok, err := pool.Admit(ctx, r.prompts[c.prompt])
	if err != nil {
		return fmt.Errorf("admit: %w", err)
	}
	defer func() {
		if t != nil {
			if cerr := t.Close(ctx); cerr != nil && err == nil {
				err = fmt.Errorf("close: %w", cerr)
			}
		}
	}()
	c.admitted = since()
	c.tokens = []int32{tok}
	c.hostMem, c.devMem = t.Memory()
	prev := c.admitted
	c.leftAfter = -1
	if c.evicted {
		c.leftAfter = r.p.Eviction.AfterTokens(r.p.DecodeTokens)
	}
	for i := range r.p.DecodeTokens {
		if i == c.leftAfter {
			if prev, err = r.evict(ctx, pool, c, &t, start, filepath.Join(r.snaps, snapName)); err != nil {
				return err
			}
			c.firstDecodeAfter = i
		}
		if tok, err = t.Decode(ctx, tok); err != nil {
			return fmt.Errorf("decode token %d: %w", i, err)
		}
		now := since()
		c.stamps, c.gaps, c.tokens = append(c.stamps, now), append(c.gaps, now-prev), append(c.tokens, tok)
		prev = now
	}
	return nil
}

// evict snapshots c's tenant *t to path and closes it, stays away the idle
// time, and restores it into a fresh instance (*t), timing each; it
// returns the time c came back, from which its next gap counts.
func (r *runner) evict(ctx context.Context, pool *tenants.Pool, c *conversation, t **tenants.Tenant, start time.Time, path string) (time.Duration, error) {
	s0 := time.Now()
	if err := (*t).Snapshot(ctx, path); err != nil {
		return 0, fmt.Errorf("evict: snapshot: %w", err)
	}
	c.snapshot = experiments.Elapsed(s0)
	err := (*t).Close(ctx)
	*t = nil
	if err != nil {
		return 0, fmt.Errorf("evict: close: %w", err)
	}
	idle := time.Duration(r.p.Eviction.IdleMS * float64(time.Millisecond))
	i0 := time.Now()
	if err := sleepUntil(ctx, i0.Add(idle)); err != nil {
		return 0, err
	}
	c.idle = time.Since(i0)
	back := time.Since(start)
	r0 := time.Now()
	nt, err := pool.Restore(ctx, path)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	c.restore = experiments.Elapsed(r0)
	*t = nt
	c.restoredHostMem, c.restoredDevMem = nt.Memory()
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	return back, nil
}

// sleepUntil waits until t or the context's end.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// judge checks every conversation of cr against its prompt decoded alone
// (checker.check) and that it ran to its end, records the verdict in the
// gap case (LabelTokensMatch, MetricPicks, MetricNearTies) and returns
// cr's cases with the failures. Checking runs after the case, outside
// its timings.
func (r *runner) judge(ctx context.Context, cr *caseResult, ck *checker) ([]results.Case, []results.Failure, error) {
	cases := cr.cases()
	name := cases[0].Name()
	var failures []results.Failure
	bad, all, picks, ties := 0, 0, 0, 0
	for rep, rp := range cr.reps {
		for _, c := range rp.convs {
			all++
			what := fmt.Sprintf("tenant %d (prompt %d, repetition %d", c.tenant, c.prompt, rep)
			if c.evicted {
				what += fmt.Sprintf(", evicted after %d tokens", c.leftAfter)
			}
			what += ")"
			if c.err != nil {
				bad++
				failures = append(failures, results.Failure{Case: name, Check: "tenant", Detail: what + " failed: " + c.err.Error()})
			}
			if len(c.tokens) == 0 {
				continue
			}
			v, err := ck.check(ctx, r.prompts[c.prompt], c.prompt, c.tokens)
			if err != nil {
				return nil, nil, fmt.Errorf("check %s: %w", what, err)
			}
			picks, ties = picks+v.picks, ties+v.ties
			if v.bad != "" {
				if c.err == nil {
					bad++
				}
				failures = append(failures, results.Failure{Case: name, Check: "tokens",
					Detail: fmt.Sprintf("%s generated %v; alone, prompt %d decodes %v; %s", what, c.tokens, c.prompt, ck.refs[c.prompt], v.bad)})
			}
		}
	}
	verdict := "yes"
	switch {
	case bad > 0:
		verdict = fmt.Sprintf("NO: %d of %d", bad, all)
	case ties > 0:
		verdict = fmt.Sprintf("yes, %d near ties", ties)
	}
	cases[0].Labels[LabelTokensMatch] = verdict
	cases[0].Metrics[MetricPicks] = float64(picks)
	cases[0].Metrics[MetricNearTies] = float64(ties)
	return cases, failures, nil
}

// batchesSince is what the pool did between two Stats: its batch-size
// histogram, the steps run alone by why, and the batches MaxWait closed.
func batchesSince(before, after tenants.Stats) (sizes map[int]uint64, alone map[string]uint64, timedOut uint64) {
	sizes, alone = map[int]uint64{}, map[string]uint64{}
	for size, n := range after.Sizes {
		if d := n - before.Sizes[size]; d > 0 {
			sizes[size] = d
		}
	}
	for why, n := range after.Alone {
		if d := n - before.Alone[why]; d > 0 {
			alone[why] = d
		}
	}
	return sizes, alone, after.TimedOut - before.TimedOut
}
