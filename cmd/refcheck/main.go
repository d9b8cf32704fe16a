// Command refcheck prepares and checks the reference comparison of our Llama
// engine against Hugging Face transformers (models/reference/hf_logits.py;
// models/reference/README.md has the runs):
//
//	refcheck write -config tiny|1b -seed S -n N -dir DIR
//	    writes synthetic bf16 weights (config.json, model.safetensors) and
//	    tokens.json (N prompt ids, BOS first) to DIR
//	refcheck compare -dir DIR -ref REF.safetensors [-prefill K] [-wasm] [-out result.json]
//	    runs our engine on the cpu device — natively, and inside the Wasm
//	    guest with -wasm — over the same tokens (K in one prefill pass with
//	    every row's logits, the rest one decode step each) with f32 and bf16
//	    KV caches, and reports the errors against the reference logits
//	refcheck bench -config tiny|1b -n N [-kv bf16] [-wasm]
//	    times N greedy decode steps on synthetic weights, natively and in the guest
//
// It is a cross-built static binary: the machine with torch has no Go.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/models/reference"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/auto"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: refcheck write|compare ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "write":
		err = write(os.Args[2:])
	case "compare":
		err = compare(os.Args[2:])
	case "bench":
		err = bench(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "refcheck:", err)
		os.Exit(1)
	}
}

func write(args []string) error {
	fs := flag.NewFlagSet("write", flag.ExitOnError)
	name := fs.String("config", "tiny", "tiny or 1b")
	seed := fs.Uint64("seed", 1, "synthetic weights seed")
	n := fs.Int("n", 16, "prompt tokens")
	dir := fs.String("dir", "", "output folder")
	fs.Parse(args)
	cfg := models.Tiny()
	if *name == "1b" {
		cfg = models.Llama32_1B()
	}
	w, err := models.Synthetic(cfg, *seed, models.BF16)
	if err != nil {
		return err
	}
	if err := models.WriteSafetensors(*dir, w); err != nil {
		return err
	}
	toks := prompt(cfg, *n, *seed)
	b, _ := json.Marshal(toks)
	return os.WriteFile(filepath.Join(*dir, "tokens.json"), b, 0o644)
}

// Result is one variant's errors against the reference.
type Result struct {
	Variant string `json:"variant"` // native or wasm
	Backend string `json:"backend"` // backend/mode the engine ran on
	KV      string `json:"kv"`
	reference.Errors
	Seconds float64 `json:"seconds"`
}

func compare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	dir := fs.String("dir", "", "model folder with tokens.json")
	refPath := fs.String("ref", "", "hf_logits.py output")
	prefill := fs.Int("prefill", 0, "tokens in the first pass (0: all but 4)")
	useWasm := fs.Bool("wasm", false, "also run inside the Wasm guest")
	outPath := fs.String("out", "", "write results as JSON here")
	backend := fs.String("backend", "cpu", "device backend: cpu, cuda, metal or auto")
	modeName := fs.String("mode", "", "memory mode (default: the backend's first)")
	fs.Parse(args)
	w, err := models.LoadDir(*dir)
	if err != nil {
		return err
	}
	var toks []int32
	b, err := os.ReadFile(filepath.Join(*dir, "tokens.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &toks); err != nil {
		return err
	}
	ref, inv, err := reference.ReadLogits(*refPath)
	if err != nil {
		return err
	}
	k := *prefill
	if k <= 0 || k > len(toks) {
		k = max(1, len(toks)-4)
	}
	invMismatch, invMaxRel := reference.CompareInvFreq(llm.InvFreq(w.Config), inv)
	fmt.Printf("inv_freq: %d of %d differ from HF's, max relative difference %.3g\n", invMismatch, len(inv), invMaxRel)
	dev, _, err := auto.Open(*backend)
	if err != nil {
		return err
	}
	defer dev.Close()
	d, ok := dev.(device.LLMDevice)
	if !ok {
		return fmt.Errorf("backend %s has no Llama kernels", *backend)
	}
	mode := d.Modes()[0]
	if *modeName != "" {
		if mode, err = device.ParseMode(*modeName); err != nil {
			return err
		}
	}
	fmt.Printf("device: %s (%s), mode %s\n", d.Info().Name, d.Info().Backend, mode)
	dw, err := d.LoadWeights(llm.WeightTensors(w))
	if err != nil {
		return err
	}
	defer dw.Close()
	// The context fits the prompt (a long-context check: ≥ 1024 tokens) and
	// the memories the engine with it, its k-row prefill's logits included.
	maxSeq := max(256, len(toks))
	var results []Result
	for _, kv := range []device.KVDType{device.KVF32, device.KVBF16} {
		memBytes := llmhost.MemoryBytes(w.Config, llmhost.Options{KV: kv, MaxSeq: maxSeq, MaxBatch: k})
		variants := []string{"native"}
		if *useWasm {
			variants = append(variants, "wasm")
		}
		for _, v := range variants {
			start := time.Now()
			var run reference.Runner
			var cleanup func()
			if v == "native" {
				mem, err := d.NewMemory(mode, memBytes)
				if err != nil {
					return err
				}
				e, err := llm.NewNative(w.Config, mem, dw, llm.Options{KV: kv, MaxSeq: maxSeq, MaxBatch: k})
				if err != nil {
					return err
				}
				run, cleanup = engineRunner(e), func() { mem.Close() }
			} else {
				ctx := context.Background()
				rt, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: memBytes})
				if err != nil {
					return err
				}
				g, err := rt.Instantiate(ctx, func(max uint64) (device.Memory, error) { return d.NewMemory(mode, max) })
				if err != nil {
					return err
				}
				g.Weights = dw
				if err := g.LLMInit(ctx, w.Config, kv, maxSeq, k); err != nil {
					return err
				}
				run, cleanup = guestRunner(g), func() { rt.Close(ctx) }
			}
			errs, err := reference.Check(run, toks, k, ref)
			cleanup()
			if err != nil {
				return fmt.Errorf("%s kv %s: %w", v, kv, err)
			}
			r := Result{Variant: v, KV: string(kv), Backend: d.Info().Backend + "/" + string(mode), Errors: errs, Seconds: time.Since(start).Seconds()}
			fmt.Printf("%-6s kv %-4s: max|Δ| %.3g, max|logit| %.3g, rel %.3g, argmax agree %d/%d (near-tie disagreements %d), %.1fs\n",
				v, kv, r.MaxAbsDiff, r.MaxAbsLogit, r.MaxAbsDiff/r.MaxAbsLogit, r.ArgmaxAgree, r.Positions, r.NearTies, r.Seconds)
			results = append(results, r)
		}
	}
	if *outPath != "" {
		b, _ := json.MarshalIndent(map[string]any{
			"device": d.Info(), "config": w.Config, "weights": w.Source, "tokens": toks, "prefill": k,
			"inv_freq_mismatches": invMismatch, "inv_freq_max_rel": invMaxRel, "results": results,
		}, "", "  ")
		return os.WriteFile(*outPath, b, 0o644)
	}
	return nil
}

// prompt returns n token ids: BOS, then ids from a PCG stream seeded by seed.
func prompt(cfg models.Config, n int, seed uint64) []int32 {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	toks := []int32{int32(cfg.BOSTokenID)}
	for len(toks) < n {
		toks = append(toks, int32(r.IntN(cfg.VocabSize)))
	}
	return toks
}

func engineRunner(e *llm.Engine) reference.Runner {
	return func(tokens []int32, all bool) ([]float32, error) {
		if err := e.Forward(tokens, all); err != nil {
			return nil, err
		}
		return append([]float32(nil), e.Logits()...), nil
	}
}

func guestRunner(g *wasm.Guest) reference.Runner {
	return func(tokens []int32, all bool) ([]float32, error) {
		return g.LLMForward(context.Background(), tokens, all)
	}
}

// bench times greedy decode steps after a short prefill.
func bench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	name := fs.String("config", "1b", "tiny or 1b")
	n := fs.Int("n", 5, "decode steps")
	kv := fs.String("kv", "bf16", "KV dtype")
	useWasm := fs.Bool("wasm", false, "also run inside the Wasm guest")
	fs.Parse(args)
	cfg := models.Tiny()
	if *name == "1b" {
		cfg = models.Llama32_1B()
	}
	start := time.Now()
	w, err := models.Synthetic(cfg, 1, models.BF16)
	if err != nil {
		return err
	}
	fmt.Printf("synthetic weights: %.1fs\n", time.Since(start).Seconds())
	d, _ := cpu.Open()
	dw, err := d.LoadWeights(llm.WeightTensors(w))
	if err != nil {
		return err
	}
	toks := prompt(cfg, 8, 1)
	ctx := context.Background()
	type engine struct {
		name            string
		prefill, decode func([]int32) (int32, error)
	}
	var es []engine
	mem, err := d.NewMemory(device.ZeroCopy, 1<<30)
	if err != nil {
		return err
	}
	defer mem.Close()
	e, err := llm.NewNative(cfg, mem, dw, llm.Options{KV: device.KVDType(*kv), MaxSeq: 256})
	if err != nil {
		return err
	}
	es = append(es, engine{"native", e.Prefill, func(t []int32) (int32, error) { return e.Decode(t[0]) }})
	if *useWasm {
		rt, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: 1 << 30})
		if err != nil {
			return err
		}
		defer rt.Close(ctx)
		g, err := rt.Instantiate(ctx, func(max uint64) (device.Memory, error) { return d.NewMemory(device.ZeroCopy, max) })
		if err != nil {
			return err
		}
		g.Weights = dw
		if err := g.LLMInit(ctx, cfg, device.KVDType(*kv), 256, 0); err != nil {
			return err
		}
		es = append(es, engine{"wasm", func(t []int32) (int32, error) { return g.LLMPrefill(ctx, t) },
			func(t []int32) (int32, error) { return g.LLMDecode(ctx, t[0]) }})
	}
	for _, e := range es {
		start := time.Now()
		next, err := e.prefill(toks)
		if err != nil {
			return err
		}
		pf := time.Since(start)
		var ms []float64
		var out []int32
		for range *n {
			start := time.Now()
			if next, err = e.decode([]int32{next}); err != nil {
				return err
			}
			ms = append(ms, float64(time.Since(start).Microseconds())/1000)
			out = append(out, next)
		}
		slices.Sort(ms)
		fmt.Printf("%-6s prefill %d tokens %.0f ms; decode ms/token median %.1f (min %.1f, max %.1f, n %d); tokens %v\n",
			e.name, len(toks), float64(pf.Microseconds())/1000, ms[len(ms)/2], ms[0], ms[len(ms)-1], len(ms), out)
	}
	return nil
}
