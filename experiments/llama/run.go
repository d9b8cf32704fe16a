package llama

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/cpuload"
	"github.com/wasmgpu/wasmgpu/internal/rss"
	"github.com/wasmgpu/wasmgpu/internal/stats"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/results"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// variant is one way of running the conversation, with what it measured.
type variant struct {
	name    string
	s       llmhost.Session
	prefill []float64 // seconds per prefill, first is the warm-up
	decode  [][]float64
	calls   []float64 // host calls of each timed decode token (a guest's)
	tokens  [][]int32 // generated tokens per repetition
}

// Run executes the spec on env's device.
func Run(ctx context.Context, env *experiments.Env, s *Spec) (*results.File, error) {
	p, err := s.Plan(env.Device.Info().Backend, env.Quick, env.Overrides)
	if err != nil {
		return nil, err
	}
	f, vs, model, err := env.StartLLM("llama", p.LLMPlan, p.NativeModes, p.WasmModes)
	if err != nil {
		return nil, err
	}
	defer model.Close()
	cfg := model.Host.Config

	bwm, _ := env.Device.(device.BandwidthMeter)
	var probes bandwidthProbes
	if err := probes.measure(env, bwm); err != nil {
		return nil, err
	}
	wb := float64(WeightBytesPerToken(model.Host))
	variants := len(vs.Names()) * len(p.Dispatch)
	f.Provenance.SetExtra("dispatch", strings.Join(p.Dispatch, ","))
	for k, v := range map[string]float64{
		"weight_bytes_per_token":  wb,
		"weights_device_bytes":    float64(model.Device.DeviceBytes()),
		"max_seq":                 float64(p.MaxSeq),
		"max_batch":               float64(p.MaxBatch),
		"decode_tokens_per_rep":   float64(p.DecodeTokens),
		"repetitions_incl_warmup": float64(p.Repetitions),
	} {
		f.Provenance.SetNumber(k, v)
	}

	opts := llmhost.Options{KV: p.KV, MaxSeq: p.MaxSeq, MaxBatch: p.MaxBatch}
	var rt *wasm.Runtime
	if len(vs.Wasm) > 0 {
		rt, err = wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: llmhost.MemoryBytes(cfg, opts), CacheDir: env.CacheDir})
		if err != nil {
			return nil, err
		}
		defer rt.Close(ctx)
	}
	total := len(p.PromptLengths) * variants * p.Repetitions * (1 + p.DecodeTokens)
	done := 0
	probe := func() error { return probes.measure(env, bwm) }
	for _, n := range p.PromptLengths {
		cases, failures, err := runPrompt(ctx, env, p, cfg, model.Device, rt, vs.Native, vs.Wasm, n, wb, probe, &done, total)
		if err != nil {
			return nil, fmt.Errorf("llama prompt=%d: %w", n, err)
		}
		f.Cases = append(f.Cases, cases...)
		f.Failures = append(f.Failures, failures...)
	}
	if note := probes.apply(f, wb); note != "" {
		f.Notes = append(f.Notes, note)
	}
	if peak, err := rss.Peak(); err == nil {
		f.Provenance.SetNumber("peak_rss_bytes", float64(peak))
	}
	return f, nil
}

func runPrompt(ctx context.Context, env *experiments.Env, p Plan, cfg models.Config, w device.Weights, rt *wasm.Runtime,
	nativeModes, wasmModes []device.Mode, n int, wb float64, probe func() error, done *int, total int) (cases []results.Case, failures []results.Failure, err error) {
	var vs []*variant
	defer func() {
		for _, v := range vs {
			if cerr := v.s.Close(ctx); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	for _, kind := range []struct {
		name  string
		modes []device.Mode
	}{{"native", nativeModes}, {"wasm", wasmModes}} {
		for _, m := range kind.modes {
			for _, d := range p.Dispatch {
				opts := llmhost.Options{KV: p.KV, MaxSeq: p.MaxSeq, MaxBatch: p.MaxBatch, Program: d == DispatchProgram}
				var s llmhost.Session
				if kind.name == "native" {
					s, err = llmhost.NewNative(env.Device, m, cfg, w, opts)
				} else {
					s, err = llmhost.NewGuest(ctx, rt, env.Device, m, cfg, w, opts)
				}
				if err != nil {
					return nil, nil, err
				}
				vs = append(vs, &variant{name: VariantName(kind.name, m, d), s: s})
			}
		}
	}
	prompt := experiments.PromptIDs(p.Seed, n, cfg.VocabSize)
	load := cpuload.Now()
	for rep := 0; rep < p.Repetitions; rep++ {
		for i := range vs {
			v := vs[(i+rep)%len(vs)]
			if err := converse(ctx, v, prompt, p.DecodeTokens); err != nil {
				return nil, nil, fmt.Errorf("%s repetition %d: %w", v.name, rep, err)
			}
			*done += 1 + p.DecodeTokens
			env.Tick(*done, total, fmt.Sprintf("prompt=%d %s", n, v.name))
		}
		if err := probe(); err != nil {
			return nil, nil, err
		}
	}

	// Greedy decoding with the same kernels must give the same tokens in
	// every variant and repetition.
	ref := vs[0].tokens[0]
	for _, v := range vs {
		for r, t := range v.tokens {
			if !slices.Equal(t, ref) {
				failures = append(failures, results.Failure{Case: fmt.Sprintf("prompt=%d/%s", n, v.name), Check: "tokens",
					Detail: fmt.Sprintf("repetition %d generated %v, %s generated %v (greedy decoding with the same kernels must agree)", r, t, vs[0].name, ref)})
			}
		}
	}
	others := cpuload.Others(load, cpuload.Now())
	group := fmt.Sprintf("prompt=%d", n)
	kvRow := float64(cfg.KVBytesPerToken(p.KV.Size()))
	for _, v := range vs {
		var warm, timed []float64
		var reps []int
		warm = v.decode[0]
		for r, d := range v.decode[1:] {
			timed = append(timed, d...)
			for range d {
				reps = append(reps, r)
			}
		}
		pre := stats.Summarize(v.prefill[1:])
		dec := stats.Summarize(timed)
		params := map[string]float64{"prompt": float64(n), "decode_tokens": float64(p.DecodeTokens)}
		m := map[string]float64{
			"tokens_per_s":           1 / dec.Median,
			"prefill_median_s":       pre.Median,
			"prefill_tokens_per_s":   float64(n) / pre.Median,
			"ttft_median_s":          pre.Median,
			"weight_bytes_per_token": wb,
			"achieved_Bps":           wb / dec.Median,
			"kv_bytes_per_token":     kvRow,
			results.MetricOthersCPU:  others,
		}
		if strings.HasPrefix(v.name, "wasm-") {
			m["host_calls_per_token"] = stats.Summarize(v.calls).Median
		}
		labels := map[string]string{"tokens": fmt.Sprint(v.tokens[0])}
		cases = append(cases,
			results.Case{Group: group, Params: params, Variant: v.name, Warmup: warm, Samples: timed, Reps: reps, Metrics: m, Labels: labels}.Summarize(),
			results.Case{Group: "prefill " + group, Params: params, Variant: v.name, Warmup: v.prefill[:1], Samples: v.prefill[1:],
				Metrics: map[string]float64{"prefill_tokens_per_s": float64(n) / pre.Median, results.MetricOthersCPU: others}}.Summarize())
	}
	return cases, failures, nil
}

// converse runs one repetition: reset, prefill (timed), decode (each token timed).
func converse(ctx context.Context, v *variant, prompt []int32, decode int) error {
	if err := v.s.Reset(ctx); err != nil {
		return err
	}
	start := time.Now()
	next, err := v.s.Prefill(ctx, prompt)
	if err != nil {
		return fmt.Errorf("prefill: %w", err)
	}
	v.prefill = append(v.prefill, experiments.Elapsed(start).Seconds())
	toks := []int32{next}
	times := make([]float64, 0, decode)
	calls := make([]float64, 0, decode)
	for i := 0; i < decode; i++ {
		before := v.s.HostCalls()
		start := time.Now()
		next, err = v.s.Decode(ctx, next)
		if err != nil {
			return fmt.Errorf("decode token %d: %w", i, err)
		}
		times = append(times, experiments.Elapsed(start).Seconds())
		calls = append(calls, float64(v.s.HostCalls()-before))
		toks = append(toks, next)
	}
	if len(v.decode) > 0 { // the first repetition is the warm-up
		v.calls = append(v.calls, calls...)
	}
	v.decode = append(v.decode, times)
	v.tokens = append(v.tokens, toks)
	return nil
}

// WeightBytesPerToken is the weight bytes one decode step must read: every
// layer's projections and norms, the final norm, the output head in full,
// and one embedding row (the head is the embedding when they are tied).
func WeightBytesPerToken(w *models.Weights) int64 {
	var total int64
	for _, t := range w.Tensors() {
		total += int64(len(t.Data))
	}
	cfg := w.Config
	rowBytes := int64(len(w.Embed.Data)) / int64(cfg.VocabSize)
	if cfg.TieWordEmbeddings {
		return total + rowBytes // the head reads the whole table; the embedding one more row
	}
	return total - int64(len(w.Embed.Data)) + rowBytes
}
