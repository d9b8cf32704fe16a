package kv

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/snapshot"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// Test geometry: the Tiny model, a bf16 cache, a prompt longer than one
// forward pass so prefill is chunked.
const (
	testSeed     = 5
	testPrompt   = 37
	testSteps    = 12 // tokens of a conversation after the prompt, the first included
	testSnapAt   = 4  // tokens of those the source produces before the snapshot
	testMaxSeq   = 96
	testBatch    = 16
	testHelpEnv  = "WASMGPU_KV_HELPER_ADDR"
	testCacheEnv = "WASMGPU_KV_HELPER_CACHE"
)

// cacheDir is wazero's compilation cache for this test binary: the guest is
// compiled once (≈1 s) instead of once per runtime.
var cacheDir string

func TestMain(m *testing.M) {
	if dir := os.Getenv(testCacheEnv); dir != "" {
		cacheDir = dir // a helper process shares its parent's cache
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "kv-test-wazero-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// model is a Tiny model's weights on one device, with a guest runtime.
type model struct {
	ctx  context.Context
	d    device.Device
	cfg  models.Config
	src  string // the weights' source
	w    device.Weights
	rt   *wasm.Runtime
	opts llmhost.Options
}

// newModel loads Tiny weights from seed onto d (the cpu device if nil), as
// the experiment does (experiments.Env.LoadModel).
func newModel(t testing.TB, d device.Device, cfg models.Config, seed uint64, kv device.KVDType) *model {
	t.Helper()
	return newModelOpts(t, d, cfg, seed, llmhost.Options{KV: kv, MaxSeq: testMaxSeq, MaxBatch: testBatch})
}

// newModelOpts is newModel with sessions sized by opts.
func newModelOpts(t testing.TB, d device.Device, cfg models.Config, seed uint64, opts llmhost.Options) *model {
	t.Helper()
	ctx := context.Background()
	if d == nil {
		d, _ = cpu.Open()
	}
	loaded, err := (&experiments.Env{Device: d}).LoadModel("kv test", cfg, seed, models.BF16)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: llmhost.MemoryBytes(cfg, opts), CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx); loaded.Close() })
	return &model{ctx: ctx, d: d, cfg: cfg, src: loaded.Host.Source, w: loaded.Device, rt: rt, opts: opts}
}

// open makes a conversation: "native" or "wasm" in mode.
func (m *model) open(t testing.TB, how string, mode device.Mode) *Conversation {
	t.Helper()
	return m.openWith(t, how, mode, m.opts)
}

// openWith is open with session options opts instead of the model's.
func (m *model) openWith(t testing.TB, how string, mode device.Mode, opts llmhost.Options) *Conversation {
	t.Helper()
	var s llmhost.Session
	var err error
	if how == "native" {
		s, err = llmhost.NewNative(m.d, mode, m.cfg, m.w, opts)
	} else {
		s, err = llmhost.NewGuest(m.ctx, m.rt, m.d, mode, m.cfg, m.w, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(m.ctx) })
	return &Conversation{S: s, Meta: snapshot.Meta{
		Fingerprint: Fingerprint(m.cfg, m.src), SourceDevice: m.d.Info().Backend, SourceMode: string(mode),
	}}
}

// prompt is the tests' prompt.
func (m *model) prompt() []int32 { return experiments.PromptIDs(1, testPrompt, m.cfg.VocabSize) }

// start prefills the prompt and decodes until the conversation has produced
// n tokens (the prefill's included); it returns them.
func start(t testing.TB, ctx context.Context, c *Conversation, prompt []int32, n int) []int32 {
	t.Helper()
	next, err := c.S.Prefill(ctx, prompt)
	if err != nil {
		t.Fatal(err)
	}
	out := []int32{next}
	return append(out, more(t, ctx, c, next, n-1)...)
}

// more decodes n tokens after next.
func more(t testing.TB, ctx context.Context, c *Conversation, next int32, n int) []int32 {
	t.Helper()
	out, err := continueFrom(ctx, c.S, next, n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// resumeAndCompare continues a restored conversation from its header's next
// token until it has testSteps tokens and fails unless they are want's.
func resumeAndCompare(t *testing.T, ctx context.Context, c *Conversation, before, want []int32) {
	t.Helper()
	next, err := c.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := before[len(before)-1]; next != last {
		t.Fatalf("restored next token %d, the source's was %d", next, last)
	}
	got := append(slices.Clone(before), more(t, ctx, c, next, len(want)-len(before))...)
	if !slices.Equal(got, want) {
		t.Fatalf("continuation after restore\n got %v\nwant %v", got, want)
	}
}
