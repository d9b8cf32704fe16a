package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/models/tokenizer"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/auto"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// genOptions are the flags of `harness generate`.
type genOptions struct {
	model, synthetic, prompt, backend, mode, system string
	n, maxSeq                                       int
	temperature, topP                               float64
	seed                                            uint64
	chat, native                                    bool
}

func generateMain(args []string, stdout, stderr io.Writer) int {
	var o genOptions
	fs := flag.NewFlagSet("harness generate", flag.ContinueOnError)
	fs.StringVar(&o.model, "model", "", "Hugging Face Llama folder: config.json, model.safetensors, tokenizer.json")
	fs.StringVar(&o.synthetic, "synthetic", "", "instead of -model: synthetic weights of preset llama-3.2-1b or tiny and a byte-level tokenizer (gibberish; for testing the plumbing)")
	fs.StringVar(&o.prompt, "prompt", "", "the prompt text")
	fs.StringVar(&o.system, "system", "", "system message (with -chat)")
	fs.BoolVar(&o.chat, "chat", true, "wrap the prompt in the Llama 3 Instruct chat template")
	fs.IntVar(&o.n, "n", 128, "most tokens to generate")
	fs.IntVar(&o.maxSeq, "max-seq", 2048, "context length")
	fs.Float64Var(&o.temperature, "temperature", 0, "sampling temperature; 0 is greedy")
	fs.Float64Var(&o.topP, "top-p", 0.9, "nucleus sampling threshold")
	fs.Uint64Var(&o.seed, "seed", 1, "sampling seed")
	fs.StringVar(&o.backend, "backend", "auto", "device backend: auto, cpu, cuda or metal")
	fs.StringVar(&o.mode, "mode", "", "memory mode (default: the backend's first)")
	fs.BoolVar(&o.native, "native", false, "run the engine natively instead of inside the Wasm guest")
	if code, ok := parseCommand(fs, args, stdout, stderr, "harness generate (-model DIR | -synthetic tiny|llama-3.2-1b) -prompt TEXT [flags]"); !ok {
		return code
	}
	if (o.model == "") == (o.synthetic == "") || o.prompt == "" || o.n < 1 {
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := generate(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "harness generate: %v\n", err)
		return 1
	}
	return 0
}

func generate(ctx context.Context, o genOptions, stdout, stderr io.Writer) error {
	var mw *models.Weights
	var tok *tokenizer.Tokenizer
	var err error
	if o.model != "" {
		if mw, err = models.LoadDir(o.model); err != nil {
			return err
		}
		if tok, err = tokenizer.LoadDir(o.model); err != nil {
			return err
		}
	} else {
		preset, ok := experiments.Presets[o.synthetic]
		if !ok {
			return fmt.Errorf("-synthetic: unknown preset %q (want llama-3.2-1b or tiny)", o.synthetic)
		}
		if mw, err = models.Synthetic(preset(), 1, models.BF16); err != nil {
			return err
		}
		if tok, err = tokenizer.NewByteLevel(preset().VocabSize); err != nil {
			return err
		}
	}
	defer mw.Close()
	cfg := mw.Config
	var ids []int
	if o.chat {
		var msgs []tokenizer.Message
		if o.system != "" {
			msgs = append(msgs, tokenizer.Message{Role: "system", Content: o.system})
		}
		msgs = append(msgs, tokenizer.Message{Role: "user", Content: o.prompt})
		ids = tok.EncodeChat(msgs, true)
	} else {
		ids = tok.Encode(o.prompt, tokenizer.EncodeOptions{AddSpecial: true})
	}
	if len(ids)+o.n > o.maxSeq {
		return fmt.Errorf("prompt of %d tokens + %d to generate exceed -max-seq %d", len(ids), o.n, o.maxSeq)
	}
	prompt := make([]int32, len(ids))
	for i, id := range ids {
		prompt[i] = int32(id)
	}

	dev, _, err := auto.Open(o.backend)
	if err != nil {
		return err
	}
	defer dev.Close()
	ld, ok := dev.(device.LLMDevice)
	if !ok {
		return fmt.Errorf("the %s backend has no Llama kernels", dev.Info().Backend)
	}
	mode := dev.Modes()[0]
	if o.mode != "" {
		if mode, err = device.ParseMode(o.mode); err != nil {
			return err
		}
	}
	w, err := ld.LoadWeights(llm.WeightTensors(mw))
	if err != nil {
		return err
	}
	defer w.Close()
	opts := llmhost.Options{KV: device.KVBF16, MaxSeq: o.maxSeq, MaxBatch: 64}
	var s llmhost.Session
	where := "in the Wasm guest"
	if o.native {
		where = "natively"
		s, err = llmhost.NewNative(dev, mode, cfg, w, opts)
	} else {
		rt, rerr := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: llmhost.MemoryBytes(cfg, opts)})
		if rerr != nil {
			return rerr
		}
		defer rt.Close(ctx)
		s, err = llmhost.NewGuest(ctx, rt, dev, mode, cfg, w, opts)
	}
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	if err := s.SetSampling(ctx, float32(o.temperature), float32(o.topP), o.seed); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "harness generate: %s, %d prompt tokens, %s on %s (%s, %s)\n",
		map[bool]string{true: o.model, false: "synthetic " + o.synthetic}[o.model != ""], len(prompt), where, dev.Info().Name, dev.Info().Backend, mode)

	start := time.Now()
	next, err := s.Prefill(ctx, prompt)
	if err != nil {
		return err
	}
	ttft := time.Since(start)
	stopAt := map[int32]bool{}
	for _, id := range cfg.EOSTokenIDs {
		stopAt[int32(id)] = true
	}
	if id, ok := tok.TokenID("<|eot_id|>"); ok {
		stopAt[int32(id)] = true
	}
	decodeStart := time.Now()
	produced := 0
	text := &textOut{w: stdout, keepLines: o.model != ""}
	for {
		if stopAt[next] {
			break
		}
		if b, ok := tok.TokenBytes(int(next)); ok && !tok.IsSpecial(int(next)) {
			if _, err := text.Write(b); err != nil {
				return err
			}
		}
		produced++
		if produced >= o.n || ctx.Err() != nil {
			break
		}
		if next, err = s.Decode(ctx, next); err != nil {
			return err
		}
	}
	if err := text.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	dt := time.Since(decodeStart)
	per := time.Duration(0)
	if produced > 1 {
		per = dt / time.Duration(produced-1)
	}
	fmt.Fprintf(stderr, "harness generate: %d tokens (%d characters shown, escaped where not printable); time to first token %v; %v per token after it\n",
		produced, text.wrote, ttft.Round(time.Microsecond), per.Round(time.Microsecond))
	return nil
}
