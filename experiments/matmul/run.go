package matmul

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/cpuload"
	"github.com/wasmgpu/wasmgpu/internal/rss"
	"github.com/wasmgpu/wasmgpu/internal/stats"
	"github.com/wasmgpu/wasmgpu/results"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// shape is one size the experiment measures.
type shape struct {
	group   string
	m, n, k int
	region  int // MiB, for region cases
}

func (s shape) bytes() uint64 { return uint64(s.m*s.k+s.k*s.n+s.m*s.n) * 4 }

// named is a variant with its name and what it measured.
type named struct {
	name    string
	mode    device.Mode
	v       variant
	warmup  []float64
	samples []float64
	devTime []float64
	metrics map[string]float64
	labels  map[string]string
}

// Run executes the spec on env's device and returns the measured cases.
// The harness adds the spec text, provenance and times.
func Run(ctx context.Context, env *experiments.Env, s *Spec) (*results.File, error) {
	p, err := s.Plan(env.Device.Info().Backend, env.Quick, env.Overrides)
	if err != nil {
		return nil, err
	}
	f, vs, err := env.Start("matmul", p.NativeModes, p.WasmModes)
	if err != nil {
		return nil, err
	}
	nativeModes, wasmModes := vs.Native, vs.Wasm
	var shapes []shape
	for _, n := range p.Sizes {
		shapes = append(shapes, shape{group: fmt.Sprintf("n=%d", n), m: n, n: n, k: n})
	}
	for _, mib := range p.RegionMiB {
		n := int(math.Sqrt(float64(mib<<20) / 12))
		shapes = append(shapes, shape{group: fmt.Sprintf("region=%dMiB", mib), m: n, n: n, k: n, region: mib})
	}
	modes := vs.Names()
	f.Provenance.DTypes = map[string]string{"matmul": "f32"}

	if len(wasmModes) > 0 {
		c, err := hostCallCost(ctx, env, p.HostCallIterations)
		if err != nil {
			return nil, err
		}
		f.Cases = append(f.Cases, c)
	}
	total := len(shapes) * len(modes) * (p.Warmup + p.Repetitions)
	done := 0
	for _, sh := range shapes {
		cases, caseNotes, failures, err := runShape(ctx, env, p, sh, nativeModes, wasmModes, &done, total)
		if err != nil {
			return nil, fmt.Errorf("matmul %s: %w", sh.group, err)
		}
		f.Cases = append(f.Cases, cases...)
		f.Notes = append(f.Notes, caseNotes...)
		f.Failures = append(f.Failures, failures...)
	}
	return f, nil
}

// hostCallCost prices one guest→host call with the cheapest host function.
func hostCallCost(ctx context.Context, env *experiments.Env, iters int) (results.Case, error) {
	c := results.Case{Group: "host-call", Variant: "wasm-nop", Params: map[string]float64{"iterations": float64(iters)}}
	rt, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: 32 << 20, CacheDir: env.CacheDir})
	if err != nil {
		return c, err
	}
	defer rt.Close(ctx)
	mode := env.Device.Modes()[0]
	g, err := rt.Instantiate(ctx, func(max uint64) (device.Memory, error) { return env.Device.NewMemory(mode, max) })
	if err != nil {
		return c, err
	}
	defer g.Close(ctx)
	load := cpuload.Now()
	for i := 0; i < 18; i++ {
		start := time.Now()
		if _, err := g.Call(ctx, "bench_nop", uint64(iters)); err != nil {
			return c, fmt.Errorf("host call cost: %w", err)
		}
		per := experiments.Elapsed(start).Seconds() / float64(iters)
		if i < 3 {
			c.Warmup = append(c.Warmup, per)
		} else {
			c.Samples = append(c.Samples, per)
		}
	}
	c.Metrics = map[string]float64{results.MetricOthersCPU: cpuload.Others(load, cpuload.Now())}
	env.Logf("host call: %.1f ns per guest→host call", stats.Summarize(c.Samples).Median*1e9)
	return c.Summarize(), nil
}

// runShape measures every variant at one size, interleaved.
func runShape(ctx context.Context, env *experiments.Env, p Plan, sh shape, nativeModes, wasmModes []device.Mode, done *int, total int) (cases []results.Case, notes []string, failures []results.Failure, err error) {
	var vs []*named
	var rt *wasm.Runtime
	defer func() {
		for _, nv := range vs {
			if cerr := nv.v.close(ctx); cerr != nil && err == nil {
				err = fmt.Errorf("close %s: %w", nv.name, cerr)
			}
		}
		if rt != nil {
			rt.Close(ctx)
		}
	}()
	for _, mode := range nativeModes {
		v, err := newNative(env.Device, mode, sh.m, sh.n, sh.k, p.Seed)
		if err != nil {
			return nil, nil, nil, err
		}
		vs = append(vs, &named{name: "native-" + string(mode), mode: mode, v: v})
	}
	if len(wasmModes) > 0 {
		// Room for A, B and C plus the Go runtime's heap overhead.
		max := sh.bytes()*5/4 + 64<<20
		rt, err = wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: max, CacheDir: env.CacheDir})
		if err != nil {
			return nil, nil, nil, err
		}
		for _, mode := range wasmModes {
			v, err := newWasm(ctx, rt, env.Device, mode, sh.m, sh.n, sh.k, p.Seed)
			if err != nil {
				return nil, nil, nil, err
			}
			vs = append(vs, &named{name: "wasm-" + string(mode), mode: mode, v: v})
		}
	}

	// Warm-up, resident-memory cost and correctness, one variant at a time.
	// The resident cost is RSS after the warm-up calls minus RSS before them,
	// both read after a collection that returns freed memory to the OS: the
	// memory the variant retains (staging buffers, mappings), as the
	// write-up's "+0.03 MB zero-copy vs +16.78 MB copy" measures.
	for _, nv := range vs {
		nv.metrics = map[string]float64{}
		nv.labels = map[string]string{"mode": string(nv.mode)}
		runtime.GC()
		debug.FreeOSMemory()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		rss0, rssErr := rss.Current()
		var last device.KernelReport
		for i := 0; i < p.Warmup; i++ {
			dt, rep, err := timeRun(ctx, nv.v)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s warm-up: %w", nv.name, err)
			}
			nv.warmup = append(nv.warmup, dt.Seconds())
			last = rep
			*done++
			env.Tick(*done, total, sh.group+" "+nv.name)
		}
		// Count what the variant keeps, not the garbage its kernel left:
		// collect and return freed memory before reading RSS again.
		runtime.ReadMemStats(&ms1)
		runtime.GC()
		debug.FreeOSMemory()
		rss1, _ := rss.Current()
		if rssErr == nil {
			nv.metrics["rss_delta_bytes"] = float64(int64(rss1) - int64(rss0))
		} else {
			nv.metrics["rss_delta_bytes"] = math.NaN()
		}
		nv.metrics["host_alloc_bytes"] = float64(ms1.TotalAlloc - ms0.TotalAlloc)
		e, err := nv.v.check(ctx, p.CheckWork)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s check: %w", nv.name, err)
		}
		nv.metrics["max_rel_err"] = e
		if len(last.Addrs) == 0 {
			last, err = nv.v.run(ctx)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s: %w", nv.name, err)
			}
		}
		proof(nv, last)
	}

	// Timed rounds, interleaved; the starting variant rotates each round.
	start, load := time.Now(), cpuload.Now()
	for r := 0; r < p.Repetitions; r++ {
		for i := range vs {
			nv := vs[(i+r)%len(vs)]
			dt, rep, err := timeRun(ctx, nv.v)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s round %d: %w", nv.name, r, err)
			}
			nv.samples = append(nv.samples, dt.Seconds())
			nv.devTime = append(nv.devTime, rep.DeviceTime.Seconds())
			*done++
			env.Tick(*done, total, sh.group+" "+nv.name)
		}
		if r+1 >= p.MinRepetitions && r+1 < p.Repetitions && time.Since(start).Seconds() > p.BudgetSeconds {
			notes = append(notes, fmt.Sprintf("%s: stopped after %d of %d rounds (budget %gs spent)", sh.group, r+1, p.Repetitions, p.BudgetSeconds))
			*done += (p.Repetitions - r - 1) * len(vs)
			break
		}
	}

	others := cpuload.Others(load, cpuload.Now())
	flops := 2 * float64(sh.m) * float64(sh.n) * float64(sh.k)
	for _, nv := range vs {
		// The last timed result must still be right.
		e, err := nv.v.check(ctx, p.CheckWork)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s final check: %w", nv.name, err)
		}
		nv.metrics["max_rel_err"] = math.Max(nv.metrics["max_rel_err"], e)
		if !(nv.metrics["max_rel_err"] <= p.Tolerance) {
			failures = append(failures, results.Failure{Case: sh.group + "/" + nv.name, Check: "max_rel_err",
				Detail: fmt.Sprintf("max relative error %.3g vs the float64 product exceeds the tolerance %.3g", nv.metrics["max_rel_err"], p.Tolerance)})
		}
		st := nv.v.stats()
		nv.metrics["staging_bytes"] = float64(st.StagingBytes)
		nv.metrics["device_bytes"] = float64(st.DeviceBytes)
		nv.metrics["pinned_bytes"] = float64(st.PinnedBytes)
		calls := float64(len(nv.warmup) + len(nv.samples) + 2)
		nv.metrics["copied_bytes_per_call"] = float64(st.CopiedBytes) / calls
		sum := stats.Summarize(nv.samples)
		nv.metrics["gflops"] = flops / sum.Median / 1e9
		nv.metrics["device_median_s"] = stats.Summarize(nv.devTime).Median
		nv.metrics[results.MetricOthersCPU] = others
		params := map[string]float64{"n": float64(sh.n), "m": float64(sh.m), "k": float64(sh.k), "region_bytes": float64(sh.bytes())}
		if sh.region > 0 {
			params["region_mib"] = float64(sh.region)
		}
		cases = append(cases, results.Case{
			Group: sh.group, Params: params, Variant: nv.name,
			Warmup: nv.warmup, Samples: nv.samples, Metrics: nv.metrics, Labels: nv.labels,
		}.Summarize())
	}
	slices.SortStableFunc(cases, func(a, b results.Case) int { return strings.Compare(a.Variant, b.Variant) })
	return cases, notes, failures, nil
}

// proof records whether the kernel's operands were the linear memory's own
// bytes: the identity that makes a mode zero-copy.
func proof(nv *named, rep device.KernelReport) {
	ops := nv.v.operands()
	inPlace := len(ops) == len(rep.Addrs) && len(ops) > 0
	var k, g []string
	for i := range ops {
		g = append(g, fmt.Sprintf("%#x", ops[i]))
		if i < len(rep.Addrs) {
			k = append(k, fmt.Sprintf("%#x", rep.Addrs[i]))
			inPlace = inPlace && rep.Addrs[i] == ops[i]
		}
	}
	nv.labels["linear_memory_addrs"] = strings.Join(g, " ")
	nv.labels["kernel_addrs"] = strings.Join(k, " ")
	nv.labels["in_place"] = fmt.Sprint(inPlace)
	if inPlace {
		nv.metrics["in_place"] = 1
	} else {
		nv.metrics["in_place"] = 0
	}
}
