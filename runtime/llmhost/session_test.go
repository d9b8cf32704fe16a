package llmhost

import (
	"context"
	"slices"
	"testing"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

type fixture struct {
	ctx  context.Context
	d    *cpu.Device
	cfg  models.Config
	w    device.Weights
	rt   *wasm.Runtime
	opts Options
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	d, _ := cpu.Open()
	cfg := models.Tiny()
	mw, err := models.Synthetic(cfg, 5, models.BF16)
	if err != nil {
		t.Fatal(err)
	}
	w, err := d.LoadWeights(llm.WeightTensors(mw))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{KV: device.KVBF16, MaxSeq: 64, MaxBatch: 8}
	rt, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: MemoryBytes(cfg, opts)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx); w.Close() })
	return &fixture{ctx: ctx, d: d, cfg: cfg, w: w, rt: rt, opts: opts}
}

func (f *fixture) sessions(t *testing.T) map[string]Session {
	t.Helper()
	n, err := NewNative(f.d, device.ZeroCopy, f.cfg, f.w, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGuest(f.ctx, f.rt, f.d, device.ZeroCopy, f.cfg, f.w, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	po := f.opts
	po.Program = true
	np, err := NewNative(f.d, device.ZeroCopy, f.cfg, f.w, po)
	if err != nil {
		t.Fatal(err)
	}
	gp, err := NewGuest(f.ctx, f.rt, f.d, device.ZeroCopy, f.cfg, f.w, po)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(f.ctx); g.Close(f.ctx); np.Close(f.ctx); gp.Close(f.ctx) })
	return map[string]Session{"native": n, "wasm": g, "native-program": np, "wasm-program": gp}
}

func run(t *testing.T, ctx context.Context, s Session, prompt []int32, steps int) []int32 {
	t.Helper()
	next, err := s.Prefill(ctx, prompt)
	if err != nil {
		t.Fatal(err)
	}
	out := []int32{next}
	for i := 1; i < steps; i++ {
		if next, err = s.Decode(ctx, next); err != nil {
			t.Fatal(err)
		}
		out = append(out, next)
	}
	return out
}

// TestNativeAndGuestAgree: the same engine and kernels give the same tokens
// and logits whether host Go or the Wasm guest drives them, op by op or
// with the token step as a program.
func TestNativeAndGuestAgree(t *testing.T) {
	f := newFixture(t)
	ss := f.sessions(t)
	prompt := []int32{1, 17, 300, 42, 9, 255, 77, 3, 128, 64, 11} // longer than MaxBatch: chunked
	nt := run(t, f.ctx, ss["native"], prompt, 12)
	nl, _ := ss["native"].Logits(f.ctx)
	for _, name := range []string{"wasm", "native-program", "wasm-program"} {
		if gt := run(t, f.ctx, ss[name], prompt, 12); !slices.Equal(nt, gt) {
			t.Fatalf("tokens differ:\nnative %v\n%s %v", nt, name, gt)
		}
		if gl, _ := ss[name].Logits(f.ctx); len(nl) != f.cfg.VocabSize || !slices.Equal(nl, gl) {
			t.Fatalf("%s: logits differ (len %d vs %d)", name, len(nl), len(gl))
		}
	}
	for _, s := range ss {
		if p, _ := s.Pos(f.ctx); p != len(prompt)+11 {
			t.Fatalf("pos %d, want %d", p, len(prompt)+11)
		}
	}
}

// TestStateMovesBetweenSessions copies a conversation's state region from
// one session into a fresh one (native → guest and back) and checks the
// continuation is the uninterrupted run's, token for token.
func TestStateMovesBetweenSessions(t *testing.T) {
	f := newFixture(t)
	prompt := []int32{5, 6, 7, 8, 200, 201}
	want := run(t, f.ctx, f.sessions(t)["native"], prompt, 10)
	for _, dir := range [][2]string{{"native", "wasm"}, {"wasm", "native"}} {
		src, dst := f.sessions(t)[dir[0]], f.sessions(t)[dir[1]]
		got := run(t, f.ctx, src, prompt, 4)
		from, err := src.State(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		to, err := dst.State(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(from) != len(to) {
			t.Fatalf("state regions differ in size: %d vs %d", len(from), len(to))
		}
		copy(to, from)
		if err := dst.Resume(f.ctx); err != nil {
			t.Fatal(err)
		}
		next := got[len(got)-1]
		for len(got) < len(want) {
			if next, err = dst.Decode(f.ctx, next); err != nil {
				t.Fatal(err)
			}
			got = append(got, next)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s→%s: continuation %v, want %v", dir[0], dir[1], got, want)
		}
	}
}

func TestResumeRefusesGarbage(t *testing.T) {
	f := newFixture(t)
	for name, s := range f.sessions(t) {
		st, _ := s.State(f.ctx)
		for i := range st[:64] {
			st[i] = 0xff
		}
		if err := s.Resume(f.ctx); err == nil {
			t.Errorf("%s: resumed from a garbage header", name)
		}
	}
}

func TestGuestErrorsComeBack(t *testing.T) {
	f := newFixture(t)
	g := f.sessions(t)["wasm"]
	if _, err := g.Prefill(f.ctx, []int32{int32(f.cfg.VocabSize + 5)}); err == nil {
		t.Fatal("out-of-vocabulary token accepted")
	}
	big := make([]int32, 65)
	if _, err := g.Prefill(f.ctx, big); err == nil {
		t.Fatal("prompt beyond the context accepted")
	}
}

// TestSamplingAgrees: seeded sampling gives the same tokens natively and in
// the guest, and differs from greedy.
func TestSamplingAgrees(t *testing.T) {
	f := newFixture(t)
	ss := f.sessions(t)
	var got [][]int32
	for _, name := range []string{"native", "wasm"} {
		if err := ss[name].SetSampling(f.ctx, 1.5, 0.95, 42); err != nil {
			t.Fatal(err)
		}
		got = append(got, run(t, f.ctx, ss[name], []int32{3, 4, 5}, 16))
	}
	if !slices.Equal(got[0], got[1]) {
		t.Fatalf("sampled tokens differ:\nnative %v\nwasm   %v", got[0], got[1])
	}
	greedy := run(t, f.ctx, f.sessions(t)["native"], []int32{3, 4, 5}, 16)
	if slices.Equal(greedy, got[0]) {
		t.Fatalf("sampling at temperature 1.5 gave the greedy tokens %v", greedy)
	}
	if err := ss["wasm"].SetSampling(f.ctx, -1, 0.9, 1); err == nil {
		t.Fatal("negative temperature accepted")
	}
}
