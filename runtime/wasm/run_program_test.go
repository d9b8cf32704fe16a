package wasm_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// TestRunProgramHook: a guest's RunProgram receives each program run with
// the guest, the validated program and the position; running it there
// gives what the default path gives, and its error traps the guest's call
// (the guest lives on).
func TestRunProgramHook(t *testing.T) {
	r := newRuntime(t)
	p, q := newProgramGuest(t, r), newProgramGuest(t, r)
	var seen []int
	p.g.RunProgram = func(g *wasm.Guest, x *llmabi.Exec, pos int) error {
		if g != p.g {
			t.Errorf("RunProgram got guest %p, want %p", g, p.g)
		}
		seen = append(seen, pos)
		if pos == 7 {
			return errors.New("refused by the batcher")
		}
		return x.Run(g.Size(), pos)
	}
	words := p.words(t)
	hp, err := p.submit(words, uint32(4*len(words)))
	if err != nil {
		t.Fatal(err)
	}
	hq, err := q.submit(words, uint32(4*len(words)))
	if err != nil {
		t.Fatal(err)
	}
	for pos := range 4 {
		if err := p.run(hp, pos); err != nil {
			t.Fatal(err)
		}
		if err := q.run(hq, pos); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(seen, []int{0, 1, 2, 3}) {
		t.Fatalf("RunProgram saw positions %v", seen)
	}
	a, _ := p.g.Read(p.v, 64<<10)
	b, _ := q.g.Read(q.v, 64<<10)
	if !slices.Equal(a, b) {
		t.Fatal("runs through RunProgram left other memory than the default path")
	}
	trapped(t, "RunProgram's error", p.run(hp, 7), "refused by the batcher")
	if err := p.run(hp, 4); err != nil {
		t.Fatalf("after a refused run: %v", err)
	}
}

// TestWithLimits: a runtime's WithLimits copy gives its guests its own
// limits, and the original's keep theirs.
func TestWithLimits(t *testing.T) {
	r, ready := looperRuntime(t, wasm.Limits{})
	short := r.WithLimits(wasm.Limits{CallTimeout: 100 * time.Millisecond})
	if got := short.Limits().CallTimeout; got != 100*time.Millisecond {
		t.Fatalf("WithLimits: CallTimeout %v", got)
	}
	if got := r.Limits().CallTimeout; got != wasm.DefaultCallTimeout {
		t.Fatalf("the original's CallTimeout became %v", got)
	}
	for attempt := 0; ; attempt++ {
		if attempt == 10 {
			t.Fatal("the guest never started within its limit")
		}
		g := cpuGuest(t, short)
		err := waitErr(t, callAsync(context.Background(), g, "spin"), "spin")
		if ran(ready) {
			if limitOf(err) != "CallTimeout" {
				t.Fatalf("got %v, want a CallTimeout LimitError", err)
			}
			break
		}
	}
}
