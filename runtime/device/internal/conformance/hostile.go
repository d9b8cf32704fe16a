package conformance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi/optable"
)

// definitions are the ops Ops and Fused hold to a definition: every op of
// the table must be here (a test says so when one is added).
var definitions = []llmabi.Op{
	llmabi.OpEmbed, llmabi.OpRMSNorm, llmabi.OpLinear, llmabi.OpRoPE, llmabi.OpKVStore, llmabi.OpAttention,
	llmabi.OpSwiGLU, llmabi.OpAdd, llmabi.OpArgmax, llmabi.OpSync, // Sync: every check reads after one
	llmabi.OpNormLinear, llmabi.OpNormGLU, llmabi.OpLinearAdd, llmabi.OpRoPEKV,
}

// hostileWeights are the tensors the valid calls read: 0 embed [50, 64],
// 1 norm [64], 2 q [96, 64], 3 k and 4 v [32, 64], 5 gate and 6 up
// [192, 64], 7 down [64, 192].
var hostileWeights = []tensorSpec{
	{"embed", "BF16", 1, 0, []int{50, 64}}, {"norm", "F32", 0.1, 1, []int{64}},
	{"q", "BF16", 0.1, 0, []int{96, 64}}, {"k", "BF16", 0.1, 0, []int{32, 64}}, {"v", "BF16", 0.1, 0, []int{32, 64}},
	{"gate", "BF16", 0.1, 0, []int{192, 64}}, {"up", "BF16", 0.1, 0, []int{192, 64}}, {"down", "BF16", 0.1, 0, []int{64, 192}},
}

// validCalls returns a valid call of every op, n = 2 rows at position 3
// with a bf16 KV cache of 10 rows, over zeroed spans of a.
func validCalls(a *arena) map[llmabi.Op]llmabi.Call {
	sp := func(floats int) device.Span { return a.f32s(floats, false) }
	x, xb := sp(2*64), sp(2*64)
	q, k, v, inv := sp(2*64), sp(2*32), sp(2*32), sp(8)
	kc, vc := a.span(10*32*2, false), a.span(10*32*2, false)
	bf16 := device.KVBF16
	return map[llmabi.Op]llmabi.Call{
		llmabi.OpEmbed:      llmabi.Embed(0, sp(2), sp(2*64), 2),
		llmabi.OpRMSNorm:    llmabi.RMSNorm(1, x, sp(2*64), 2, 1e-5),
		llmabi.OpLinear:     llmabi.Linear(2, x, sp(2*96), 2),
		llmabi.OpRoPE:       llmabi.RoPE(q, inv, 2, 4, 16, 3),
		llmabi.OpKVStore:    llmabi.KVStore(k, kc, bf16, 2, 3, 32),
		llmabi.OpAttention:  llmabi.Attention(q, kc, vc, sp(2*64), bf16, 2, 3, 4, 2, 16),
		llmabi.OpSwiGLU:     llmabi.SwiGLU(sp(128), sp(128), sp(128), 128),
		llmabi.OpAdd:        llmabi.Add(sp(128), sp(128), 128),
		llmabi.OpArgmax:     llmabi.Argmax(sp(2*50), sp(2), 2, 50),
		llmabi.OpSync:       llmabi.Sync(),
		llmabi.OpNormLinear: llmabi.NormLinear(1, []int{2, 3, 4}, x, xb, []device.Span{sp(2 * 96), sp(2 * 32), sp(2 * 32)}, 2, 1e-5),
		llmabi.OpNormGLU:    llmabi.NormGLU(1, 5, 6, x, xb, sp(2*192), sp(2*192), 2, 1e-5),
		llmabi.OpLinearAdd:  llmabi.LinearAdd(7, sp(2*192), sp(2*64), sp(2*64), 2),
		llmabi.OpRoPEKV:     llmabi.RoPEKV(q, k, v, inv, kc, vc, bf16, 2, 3, 4, 2, 16),
	}
}

// mutation is a call made invalid in one argument, and the words its error
// must contain.
type mutation struct {
	name string
	c    llmabi.Call
	want []string
}

// mutations derives hostile calls from the valid call c and the op table:
// each operand past the end of memory, wrapping around, misaligned, cut
// short or empty, and (if the op writes it) laid over each other operand;
// each scalar and weight id out of range; the group's count out of range.
func mutations(c llmabi.Call, size uint64) []mutation {
	l := c.Op.Layout()
	var ms []mutation
	add := func(name string, edit func(*llmabi.Call), want ...string) {
		m := c
		edit(&m)
		ms = append(ms, mutation{name, m, want})
	}
	active := func(slot int) bool { return slot < 0 || slot < c.Count }
	for i, o := range l.Operands {
		if !active(o.Slot) {
			continue
		}
		add(o.Name+" past the end", func(m *llmabi.Call) { m.S[i].Off = size - m.S[i].Len + 4 }, o.Name, "outside memory")
		add(o.Name+" wrapping", func(m *llmabi.Call) { m.S[i].Off = ^uint64(0) - 3 }, o.Name, "outside memory")
		add(o.Name+" misaligned", func(m *llmabi.Call) { m.S[i].Off += 2 }, o.Name, "aligned")
		add(o.Name+" short", func(m *llmabi.Call) { m.S[i].Len -= 4 }, o.Name)
		add(o.Name+" empty", func(m *llmabi.Call) { m.S[i].Len = 0 }, o.Name)
		if !o.Role.Writes() {
			continue
		}
		for j, p := range l.Operands {
			if j == i || !active(p.Slot) {
				continue
			}
			shift := uint64(0)
			if j == o.Alias {
				shift = 4 // equal to its alias is allowed; a partial overlap is not
			}
			add(o.Name+" over "+p.Name, func(m *llmabi.Call) { m.S[i].Off = c.S[j].Off + shift }, "overlaps")
		}
	}
	for k, s := range l.Ints {
		low := 1
		if s.Kind == optable.Index {
			low = 0
		}
		add(s.Name+" too small", func(m *llmabi.Call) { m.I[k] = low - 1 }, s.Name, "not in")
		add(s.Name+" 2^31", func(m *llmabi.Call) { m.I[k] = 1 << 31 }, s.Name)
	}
	if l.F32 != "" {
		add(l.F32+" NaN", func(m *llmabi.Call) { m.F = float32(math.NaN()) }, l.F32)
		add(l.F32+" negative", func(m *llmabi.Call) { m.F = -1 }, l.F32)
	}
	if l.DType != "" {
		add("KV dtype q4", func(m *llmabi.Call) { m.KV = "q4" }, "KV dtype")
	}
	for i, w := range l.Weights {
		if !active(w.Slot) {
			continue
		}
		add(w.Name+" id 999", func(m *llmabi.Call) { m.W[i] = 999 }, w.Name, "no weight tensor 999")
		add(w.Name+" id -1", func(m *llmabi.Call) { m.W[i] = -1 }, w.Name, "no weight tensor -1")
		wrong := 2 // a rank-2 tensor for a rank-1 argument, the norm for a rank-2 one
		if len(w.Dims) == 2 {
			wrong = 1
		}
		add(w.Name+" of the wrong rank", func(m *llmabi.Call) { m.W[i] = wrong }, w.Name, "has shape")
	}
	if l.Group > 0 {
		add("count 0", func(m *llmabi.Call) { m.Count = 0 }, "count 0")
		add("count over", func(m *llmabi.Call) { m.Count = l.Group + 1 }, fmt.Sprintf("count %d", l.Group+1))
	}
	return ms
}

// Hostile runs every op's valid call, then every mutation of it, which must
// fail with an error naming the op and the argument and launch nothing;
// then ops with closed and, if the backend refuses them, foreign weights.
func Hostile(t *testing.T, b Backend) {
	for _, op := range llmabi.Ops() {
		found := false
		for _, d := range definitions {
			found = found || d == op
		}
		if !found {
			t.Errorf("op %s is held to no definition: add its check to the conformance suite", op)
		}
	}
	for _, mode := range b.Modes {
		t.Run(string(mode), func(t *testing.T) {
			const size = 1 << 20
			a := newArena(t, b.Device, mode, size, 9)
			ws := load(t, b.Device, rand.New(rand.NewPCG(9, 9)), hostileWeights)
			calls := validCalls(a)
			for _, op := range llmabi.Ops() {
				c, ok := calls[op]
				if !ok {
					t.Errorf("op %s has no valid call in the conformance suite (validCalls)", op)
					continue
				}
				if err := llmabi.Dispatch(a.ops, ws.w, &c); err != nil {
					t.Fatalf("valid %s: %v", op, err)
				}
				a.sync()
				for _, m := range mutations(c, size) {
					a.refuses(op.String()+": "+m.name, func() error { return llmabi.Dispatch(a.ops, ws.w, &m.c) }, append(m.want, op.String()+":")...)
				}
			}
			closed := load(t, b.Device, rand.New(rand.NewPCG(9, 9)), hostileWeights[:3])
			if err := closed.w.Close(); err != nil {
				t.Fatal(err)
			}
			lin := calls[llmabi.OpLinear]
			a.refuses("linear with closed weights", func() error { return llmabi.Dispatch(a.ops, closed.w, &lin) }, "linear:")
			if b.RefusesForeignWeights {
				a.refuses("linear with weights the device did not load", func() error { return llmabi.Dispatch(a.ops, llmabi.HostWeights(ws.ts), &lin) }, "linear")
			}
		})
	}
}

// refuses runs call, which must fail with an error containing every want,
// change no byte of the arena and launch no kernel.
func (a *arena) refuses(what string, call func() error, want ...string) {
	a.t.Helper()
	before := a.read(device.Span{Len: a.top})
	launched := a.mem.Stats().KernelsLaunch
	err := call()
	if err == nil {
		a.t.Errorf("%s: accepted", what)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			a.t.Errorf("%s: error %q does not say %q", what, err, w)
		}
	}
	if string(a.read(device.Span{Len: a.top})) != string(before) {
		a.t.Errorf("%s: refused, but memory changed", what)
	}
	if n := a.mem.Stats().KernelsLaunch; n != launched {
		a.t.Errorf("%s: refused, but %d kernels ran", what, n-launched)
	}
}
