package llmhost

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// TestTruncatedWeightsAreAnError loads Tiny weights from a model folder
// (mapped), truncates model.safetensors under them, and decodes: both kinds
// of session report the fault as an error, and the process lives (before,
// SIGBUS killed it).
func TestTruncatedWeightsAreAnError(t *testing.T) {
	f := newFixture(t)
	cfg := models.Tiny()
	cfg.NumHiddenLayers = 8 // a file of several pages: the cut falls inside the layers
	mw, err := models.Synthetic(cfg, 9, models.BF16)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := models.WriteSafetensors(dir, mw); err != nil {
		t.Fatal(err)
	}
	lw, err := models.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lw.Close()
	w, err := f.d.LoadWeights(llm.WeightTensors(lw))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := wasm.New(f.ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: MemoryBytes(cfg, f.opts)})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(f.ctx)
	n, err := NewNative(f.d, device.ZeroCopy, cfg, w, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(f.ctx)
	g, err := NewGuest(f.ctx, rt, f.d, device.ZeroCopy, cfg, w, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(f.ctx)
	// Both decode while the file is whole.
	for _, s := range []Session{n, g} {
		if _, err := s.Prefill(f.ctx, []int32{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Truncate(filepath.Join(dir, models.WeightsFile), 8192); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Session{"native": n, "wasm": g} {
		_, err := s.Decode(f.ctx, 4)
		var mf *device.MemoryFault
		if err == nil || !(errors.As(err, &mf) || strings.Contains(err.Error(), "fault")) {
			t.Errorf("%s: decode over truncated weights: %v, want a memory fault error", name, err)
		}
	}
}

// TestNonFiniteWeightsComeBack: NaN weights are an error naming the
// position from both kinds of session, not a token.
func TestNonFiniteWeightsComeBack(t *testing.T) {
	f := newFixture(t)
	mw, _ := models.Synthetic(models.Tiny(), 5, models.BF16)
	mw.FinalNorm.Data[0], mw.FinalNorm.Data[1] = 0xc0, 0x7f // bf16 NaN
	w, err := f.d.LoadWeights(llm.WeightTensors(mw))
	if err != nil {
		t.Fatal(err)
	}
	f.w = w
	for name, s := range f.sessions(t) {
		tok, err := s.Prefill(f.ctx, []int32{1, 2, 3})
		if err == nil || !strings.Contains(err.Error(), "logits at position 2 hold NaN or infinity") {
			t.Errorf("%s: token %d, error %v", name, tok, err)
		}
	}
}

// TestStoppedGuestSessionIsClosed: a guest session whose call runs past its
// runtime's CallTimeout is stopped with a LimitError and closed; its later
// calls fail with ErrClosed, and Close still succeeds.
func TestStoppedGuestSessionIsClosed(t *testing.T) {
	f := newFixture(t)
	rt, err := wasm.New(f.ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: MemoryBytes(f.cfg, f.opts), Limits: wasm.Limits{CallTimeout: time.Nanosecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(f.ctx)
	_, err = NewGuest(f.ctx, rt, f.d, device.ZeroCopy, f.cfg, f.w, f.opts)
	var le *wasm.LimitError
	if !errors.As(err, &le) || le.Limit != "CallTimeout" {
		t.Fatalf("a guest session under a 1ns call timeout: %v", err)
	}
	// A session stopped by its caller's deadline mid-prefill.
	g, err := NewGuest(f.ctx, f.rt, f.d, device.ZeroCopy, f.cfg, f.w, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	if _, err := g.Prefill(ctx, []int32{1, 2, 3}); !errors.Is(err, context.Canceled) {
		t.Fatalf("prefill under a cancelled context: %v", err)
	}
	if _, err := g.Decode(f.ctx, 1); !errors.Is(err, wasm.ErrClosed) {
		t.Fatalf("decode after the stop: %v", err)
	}
	if err := g.Close(f.ctx); err != nil {
		t.Fatalf("close after the stop: %v", err)
	}
}

// TestFailedResumeResets: a state header the engine refuses leaves either
// kind of session reset at position 0, decoding from an empty
// conversation, not at its old position over a cache it did not check.
func TestFailedResumeResets(t *testing.T) {
	f := newFixture(t)
	for name, s := range f.sessions(t) {
		run(t, f.ctx, s, []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 1)
		st, _ := s.State(f.ctx)
		st[32], st[33] = 0xff, 0x7f // next token far outside the vocabulary
		if err := s.Resume(f.ctx); err == nil || !strings.Contains(err.Error(), "next token") {
			t.Fatalf("%s: resume of a bad next token: %v", name, err)
		}
		if pos, err := s.Pos(f.ctx); err != nil || pos != 0 {
			t.Fatalf("%s: pos %d (%v) after the refused resume, want 0", name, pos, err)
		}
		if _, err := s.Decode(f.ctx, 1); err != nil {
			t.Fatalf("%s: decode after the reset: %v", name, err)
		}
	}
}
