package wasm_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// tinyWeights are synthetic Tiny weights loaded on the cpu device.
func tinyWeights(t testing.TB) (*models.Weights, device.Weights) {
	t.Helper()
	w, err := models.Synthetic(models.Tiny(), 3, models.BF16)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := cpu.Open()
	dw, err := d.LoadWeights(llm.WeightTensors(w))
	if err != nil {
		t.Fatal(err)
	}
	return w, dw
}

// llmGuest is a guest with Tiny weights bound and its engine initialized.
func llmGuest(t testing.TB, r *wasm.Runtime, mode device.Mode, kv device.KVDType) (*wasm.Guest, *models.Weights) {
	t.Helper()
	w, dw := tinyWeights(t)
	g := newGuest(t, r, mode)
	g.Weights = dw
	if err := g.LLMInit(context.Background(), w.Config, kv, 32, 8); err != nil {
		t.Fatal(err)
	}
	return g, w
}

// TestLLMGuestMatchesNative runs the same prompt through the engine inside
// the guest and natively on the host: the kernels and their order are the
// same, so the logits must be bit-identical, and so must the state region.
func TestLLMGuestMatchesNative(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t)
	for _, mode := range []device.Mode{device.ZeroCopy, device.Copy} {
		for _, kv := range []device.KVDType{device.KVF32, device.KVBF16} {
			g, w := llmGuest(t, r, mode, kv)
			d, _ := cpu.Open()
			mem, _ := d.NewMemory(mode, 16<<20)
			defer mem.Close()
			dw, _ := d.LoadWeights(llm.WeightTensors(w))
			e, err := llm.NewNative(w.Config, mem, dw, llm.Options{KV: kv, MaxSeq: 32, MaxBatch: 8})
			if err != nil {
				t.Fatal(err)
			}
			toks := []int32{1, 17, 300, 42, 511, 0, 9}
			got, err := g.LLMForward(ctx, toks, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Forward(toks, true); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, e.Logits()) {
				t.Fatalf("%s %s: guest logits differ from native", mode, kv)
			}
			// Greedy decode a few tokens both ways.
			gt, err := g.LLMDecode(ctx, 5)
			if err != nil {
				t.Fatal(err)
			}
			nt, err := e.Decode(5)
			if err != nil {
				t.Fatal(err)
			}
			for range 4 {
				if gt != nt {
					t.Fatalf("%s %s: guest decoded %d, native %d", mode, kv, gt, nt)
				}
				if gt, err = g.LLMDecode(ctx, gt); err != nil {
					t.Fatal(err)
				}
				if nt, err = e.Decode(nt); err != nil {
					t.Fatal(err)
				}
			}
			off, n, pos, err := g.LLMState(ctx)
			if err != nil || pos != e.Pos() || n != e.State().Len {
				t.Fatalf("state: pos %d len %d (%v), native pos %d len %d", pos, n, err, e.Pos(), e.State().Len)
			}
			gs, _ := g.Read(off, n)
			ns := mem.Bytes()[e.State().Off : e.State().Off+e.State().Len]
			if !slices.Equal(gs, ns) {
				t.Fatalf("%s %s: state regions differ", mode, kv)
			}
		}
	}
}

// TestLLMGuestErrors: engine errors come back as errors, not traps.
func TestLLMGuestErrors(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t)
	g, _ := llmGuest(t, r, device.ZeroCopy, device.KVBF16)
	if _, err := g.LLMPrefill(ctx, make([]int32, 40)); err == nil || !strings.Contains(err.Error(), "exceed the context of 32") {
		t.Fatalf("prefill past the context: %v", err)
	}
	if _, err := g.LLMPrefill(ctx, []int32{9999}); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
		t.Fatalf("bad token: %v", err)
	}
	g2 := newGuest(t, r, device.ZeroCopy)
	if _, err := g2.LLMDecode(ctx, 1); err == nil || !strings.Contains(err.Error(), "not initialized") {
		t.Fatalf("decode before init: %v", err)
	}
	// Without weights bound the first kernel traps.
	if err := g2.LLMInit(ctx, models.Tiny(), device.KVF32, 16, 4); err != nil {
		t.Fatal(err)
	}
	_, err := g2.LLMDecode(ctx, 1)
	var trap *wasm.TrapError
	if !errors.As(err, &trap) || !strings.Contains(trap.Msg, "no weights bound") {
		t.Fatalf("decode without weights: %v", err)
	}
}

// rawLLM is one llm_raw call: an op and its wire words.
type rawLLM struct {
	name string
	op   llmabi.Op
	args []uint32
	want string // in the trap message; "" means the call must succeed
}

// hostileLLMCases are calls a malicious guest might make, given a valid
// 64 KiB scratch region at v and the memory size. Tiny: hidden 64, 4 heads,
// 2 KV heads of 16, intermediate 192, vocab 512; tensors 1..9 are layer 0's
// attention norm, q, k, v, o, MLP norm, gate, up and down.
func hostileLLMCases(v, size uint32) []rawLLM {
	x, out, f, cache := v, v+1024, v+2048, v+4096 // 4 rows of 64 f32 = 1024 bytes
	eps := math.Float32bits(1e-5)
	return []rawLLM{
		{"linear ok", llmabi.OpLinear, []uint32{2, x, 256, out, 256, 1}, ""},
		{"rmsnorm in place ok", llmabi.OpRMSNorm, []uint32{1, x, 256, x, 256, 1, eps}, ""},
		{"embed past end", llmabi.OpEmbed, []uint32{0, size - 4, 8, out, 256, 1}, "embed: tokens [" + fmt.Sprint(size-4) + ", +8) is outside memory"},
		{"embed wraps", llmabi.OpEmbed, []uint32{0, x, 4, 0xffffff00, 0x200, 1}, "out [4294967040, +512) is outside memory"},
		{"embed bad token", llmabi.OpEmbed, []uint32{0, x, 4, out, 256, 1}, ""}, // x holds a valid id (0)
		{"linear bad tensor", llmabi.OpLinear, []uint32{999, x, 256, out, 256, 1}, "no weight tensor 999"},
		{"linear negative tensor", llmabi.OpLinear, []uint32{0xffffffff, x, 256, out, 256, 1}, "no weight tensor -1"},
		{"linear wrong rank", llmabi.OpLinear, []uint32{1, x, 256, out, 256, 1}, "want [outDim, in]"},
		{"linear overlap", llmabi.OpLinear, []uint32{2, x, 256, x + 128, 256, 1}, "overlaps"},
		{"linear lies about n", llmabi.OpLinear, []uint32{2, x, 256, out, 256, 0x7fffffff}, "x is 256 bytes"},
		{"rmsnorm NaN eps", llmabi.OpRMSNorm, []uint32{1, x, 256, out, 256, 1, 0x7fc00000}, "eps NaN"},
		{"rope huge dims", llmabi.OpRoPE, []uint32{x, 256, f, 32, 0xffffffff, 0xffffffff, 0xffffffff, 0}, "not in [1, 2^31)"},
		{"rope overlap", llmabi.OpRoPE, []uint32{x, 256, x, 32, 1, 4, 16, 0}, "overlaps"},
		{"kvstore pos beyond cache", llmabi.OpKVStore, []uint32{x, 128, cache, 16 * 128, 0, 1, 16, 32}, "beyond cache's rows = 16"},
		{"kvstore pos wraps", llmabi.OpKVStore, []uint32{x, 128, cache, 16 * 128, 0, 2, 0xffffffff, 32}, "pos 4294967295"},
		{"kvstore bad dtype", llmabi.OpKVStore, []uint32{x, 128, cache, 16 * 128, 7, 1, 0, 32}, "KV dtype code 7"},
		{"attention pos beyond cache", llmabi.OpAttention, []uint32{x, 256, cache, 2048, cache + 2048, 2048, out, 256, 0, 1, 16, 4, 2, 16}, "beyond kCache's rows = 16"},
		{"attention gqa", llmabi.OpAttention, []uint32{x, 256, cache, 2048, cache + 2048, 2048, out, 256, 0, 1, 0, 4, 3, 16}, "not a multiple of kvHeads"},
		{"attention out on cache", llmabi.OpAttention, []uint32{x, 256, cache, 2048, cache + 2048, 2048, cache + 1024, 256, 0, 1, 0, 4, 2, 16}, "overlaps"},
		{"attention ok", llmabi.OpAttention, []uint32{x, 256, cache, 2048, cache + 2048, 2048, out, 256, 0, 1, 0, 4, 2, 16}, ""},
		{"swiglu up is out", llmabi.OpSwiGLU, []uint32{x, 64, out, 64, out, 64, 16}, "overlaps"},
		{"add overlap", llmabi.OpAdd, []uint32{x, 64, x + 4, 64, 16}, "overlaps"},
		{"add count lies", llmabi.OpAdd, []uint32{x, 64, out, 64, 1 << 30}, "x is 64 bytes"},
		{"argmax unaligned", llmabi.OpArgmax, []uint32{x + 2, 64, out, 4, 1, 16}, "not 4-byte aligned"},
		{"argmax beyond", llmabi.OpArgmax, []uint32{x, 64, size, 4, 1, 16}, "out [" + fmt.Sprint(size) + ", +4) is outside memory"},
		{"sync ok", llmabi.OpSync, nil, ""},
		{"norm_linear ok", llmabi.OpNormLinear, []uint32{1, 3, 2, 3, 4, x, 256, x + 256, 256, out, 256, out + 256, 128, out + 384, 128, 1, eps}, ""},
		{"norm_linear count 4", llmabi.OpNormLinear, []uint32{1, 4, 2, 3, 4, x, 256, x + 256, 256, out, 256, out + 256, 128, out + 384, 128, 1, eps}, "count 4"},
		{"norm_linear xb is x", llmabi.OpNormLinear, []uint32{1, 1, 2, 0, 0, x, 256, x, 256, out, 256, 0, 0, 0, 0, 1, eps}, "overlaps"},
		{"norm_linear outs overlap", llmabi.OpNormLinear, []uint32{1, 2, 2, 3, 0, x, 256, x + 256, 256, out, 256, out + 128, 128, 0, 0, 1, eps}, "overlaps"},
		{"norm_linear wrong width", llmabi.OpNormLinear, []uint32{1, 1, 9, 0, 0, x, 256, x + 256, 256, out, 256, 0, 0, 0, 0, 1, eps}, "weights[0]: tensor 9"},
		{"norm_glu ok", llmabi.OpNormGLU, []uint32{6, 7, 8, x, 256, x + 256, 256, out, 768, out + 768, 768, 1, eps}, ""},
		{"norm_glu up is down", llmabi.OpNormGLU, []uint32{6, 7, 9, x, 256, x + 256, 256, out, 768, out + 768, 768, 1, eps}, "up:"},
		{"norm_glu tmp is out", llmabi.OpNormGLU, []uint32{6, 7, 8, x, 256, x + 256, 256, out, 768, out, 768, 1, eps}, "overlaps"},
		{"linear_add ok", llmabi.OpLinearAdd, []uint32{5, x, 256, x + 256, 256, out, 256, 1}, ""},
		{"linear_add resid on x", llmabi.OpLinearAdd, []uint32{5, x, 256, x + 256, 256, x + 64, 256, 1}, "overlaps"},
		{"rope_kv ok", llmabi.OpRoPEKV, []uint32{x, 256, x + 256, 128, x + 384, 128, f, 32, cache, 2048, cache + 2048, 2048, 1, 1, 0, 4, 2, 16}, ""},
		{"rope_kv pos beyond cache", llmabi.OpRoPEKV, []uint32{x, 256, x + 256, 128, x + 384, 128, f, 32, cache, 2048, cache + 2048, 2048, 1, 1, 40, 4, 2, 16}, "beyond kCache's rows = 32"},
		{"rope_kv v on cache", llmabi.OpRoPEKV, []uint32{x, 256, x + 256, 128, cache, 128, f, 32, cache, 2048, cache + 2048, 2048, 1, 1, 0, 4, 2, 16}, "overlaps"},
	}
}

// callRaw writes c's arguments where the guest's llm_raw reads them and
// calls it (callRawCtx, without a deadline).
func callRaw(g *wasm.Guest, c rawLLM) error {
	return callRawCtx(context.Background(), g, c)
}

// maxWire is the most wire words an op takes: llm_raw's argument block.
var maxWire = func() int {
	n := 0
	for _, op := range llmabi.Ops() {
		n = max(n, op.Words())
	}
	return n
}()

func TestLLMHostileGuestTraps(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t)
	g, _ := llmGuest(t, r, device.ZeroCopy, device.KVBF16)
	v := uint32(call(t, g, "alloc", 64<<10)[0])
	size := uint32(g.Size())
	for _, c := range hostileLLMCases(v, size) {
		err := callRaw(g, c)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var trap *wasm.TrapError
		if !errors.As(err, &trap) || !strings.HasPrefix(trap.Func, "llm_") || !strings.Contains(trap.Msg, c.want) {
			t.Errorf("%s: got %v, want a trap from llm_* mentioning %q", c.name, err, c.want)
		}
	}
	// A token id outside the table traps from inside the kernel.
	mem := g.Memory().Bytes()
	mem[v], mem[v+1], mem[v+2], mem[v+3] = 0, 4, 0, 0 // token 1024
	var trap *wasm.TrapError
	if err := callRaw(g, rawLLM{op: llmabi.OpEmbed, args: []uint32{0, v, 4, v + 1024, 256, 1}}); !errors.As(err, &trap) || !strings.Contains(trap.Msg, "token 1024") {
		t.Errorf("embed of token 1024: %v", err)
	}
	// The guest still works after the traps.
	if _, err := g.LLMPrefill(ctx, []int32{1, 2, 3}); err != nil {
		t.Fatalf("after traps: %v", err)
	}
}

// FuzzHostileLLM hands the host's LLM kernels arbitrary ranges and shapes:
// the host must run the op or trap, never crash, and never accept a range
// outside the guest's memory. A kernel may legally write anywhere inside the
// guest's memory, including the guest's own Go runtime, so a guest may then
// fault on its own corrupted state ("wasm error: …"): that guest is replaced,
// and the host must still make a new one that works.
func FuzzHostileLLM(f *testing.F) {
	ctx := context.Background()
	r := newRuntime(f)
	g, w := llmGuest(f, r, device.ZeroCopy, device.KVBF16)
	dw := g.Weights
	fresh := func() (*wasm.Guest, error) {
		d, _ := cpu.Open()
		ng, err := r.Instantiate(ctx, func(max uint64) (device.Memory, error) { return d.NewMemory(device.ZeroCopy, max) })
		if err != nil {
			return nil, err
		}
		ng.Weights = dw
		if err := ng.LLMInit(ctx, w.Config, device.KVBF16, 32, 8); err != nil {
			ng.Close(ctx)
			return nil, err
		}
		return ng, nil
	}
	f.Cleanup(func() { g.Close(ctx) })
	v := uint32(call(f, g, "alloc", 64<<10)[0])
	size := uint32(g.Size())
	if maxWire > 18 {
		f.Fatalf("an op takes %d words: give the fuzz function as many", maxWire)
	}
	for _, c := range hostileLLMCases(v, size) {
		a := make([]uint32, 18)
		copy(a, c.args)
		f.Add(uint32(c.op), a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17])
	}
	f.Fuzz(func(t *testing.T, op, a, b, c, d, e, ff, gg, h, i, j, k, l, m, n, o, p, q, rr uint32) {
		args := []uint32{a, b, c, d, e, ff, gg, h, i, j, k, l, m, n, o, p, q, rr}
		// Keep legal work small so the fuzzer spends its time on bounds.
		for x := range args {
			if args[x] > 1<<20 && args[x] < size-(1<<20) {
				args[x] %= 1 << 12
			}
		}
		err := callRaw(g, rawLLM{op: llmabi.Op(op % uint32(len(llmabi.Ops()))), args: args})
		var trap *wasm.TrapError
		if err == nil || errors.As(err, &trap) {
			return
		}
		if !strings.Contains(err.Error(), "wasm error:") {
			t.Fatalf("neither a host trap nor a guest fault: %v", err)
		}
		// The guest broke itself; the host must be intact.
		g.Close(ctx)
		ng, ferr := fresh()
		if ferr != nil {
			t.Fatalf("no new guest after a guest fault: %v", ferr)
		}
		if _, perr := ng.LLMPrefill(ctx, []int32{1, 2, 3}); perr != nil {
			t.Fatalf("new guest after a guest fault: %v", perr)
		}
		g = ng
	})
}
