//go:build darwin

package metal

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/ebitengine/purego/objc"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/operand"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// The device.LLMOps methods. Each validates its call as every backend does
// (llmabi.Call.Validate: the same errors everywhere), then encodes one dispatch of a
// kernel from kernels/llm.metal (see llm_exec_darwin.go for when it runs).
// The encode closures run on the Metal thread.

// attentionMaxHeadDim is the largest headDim the attention kernel holds
// (8 output dims per lane of a 32-wide SIMD group; ATT_MAXD in llm.metal).
const attentionMaxHeadDim = 256

// f32Arg is a float32 argument's bits, for a u32Arg field that MSL declares float.
func f32Arg(v float32) uint32 { return math.Float32bits(v) }

// weightBuf returns w as this device's *Weights and tensor id's buffer; the
// Check helper has looked id up already.
func (m *Memory) weightBuf(op string, w device.Weights, id int) (objc.ID, error) {
	mw, ok := w.(*Weights)
	if !ok || mw.d != m.d {
		return 0, fmt.Errorf("%s: weights were not loaded by this metal device", op)
	}
	if mw.bufs[id] == 0 {
		return 0, fmt.Errorf("%s: weight tensor %d has no buffer (weights closed?)", op, id)
	}
	return mw.bufs[id], nil
}

// Embed writes rows tokens[t] of the table to out as float32. Token ids are
// data: they are read here, from the linear memory, and each is checked
// against the table; the kernel also writes zeros for an id outside it, so
// an id changed after this check cannot steer a read outside the table.
func (m *Memory) Embed(w device.Weights, table int, tokens, out device.Span, n int) error {
	t, wb, err := m.checkWeight(w, llmabi.Embed(table, tokens, out, n))
	if err != nil {
		return err
	}
	if m.closed {
		return fmt.Errorf("metal: embed: memory is closed")
	}
	vocab, dim := t.Shape[0], t.Shape[1]
	ids := unsafe.Slice((*int32)(unsafe.Pointer(&m.mem[tokens.Off])), n)
	for i, id := range ids {
		if id < 0 || int(id) >= vocab {
			return fmt.Errorf("embed: token %d at row %d is outside the table's %d rows", id, i, vocab)
		}
	}
	name := "embed_" + dtSuffix(t.DType)
	c := llmCall{name: "embed", args: []operand.Operand{operand.In(tokens), operand.Out(out)}}
	return m.llmRun(&c, func(enc objc.ID) (int, error) {
		tw, err := m.d.threads(name, 256)
		if err != nil {
			return 0, err
		}
		groups := mtlSize{Width: ceilDiv(uint(dim), tw), Height: uint(n), Depth: 1}
		return one(m.d.dispatch(enc, name, []kernelArg{
			bufferArg(wb, 0), c.arg(0), c.arg(1), u32Arg(uint32(vocab), uint32(dim)),
		}, groups, mtlSize{Width: tw, Height: 1, Depth: 1}))
	})
}

// RMSNorm normalizes each row of x into out (which may be x): one
// threadgroup per row.
func (m *Memory) RMSNorm(w device.Weights, weight int, x, out device.Span, n int, eps float32) error {
	t, wb, err := m.checkWeight(w, llmabi.RMSNorm(weight, x, out, n, eps))
	if err != nil {
		return err
	}
	name := "rmsnorm_" + dtSuffix(t.DType)
	c := llmCall{name: "rmsnorm", args: []operand.Operand{operand.In(x), operand.Out(out)}}
	return m.llmRun(&c, func(enc objc.ID) (int, error) {
		return m.perRow(enc, name, 256, uint(n), bufferArg(wb, 0), c.arg(0), c.arg(1), u32Arg(uint32(t.Shape[0]), f32Arg(eps)))
	})
}

// Linear computes out = x·Wᵀ: a GEMV with one SIMD group per output row
// for n = 1 (decode), a 16×16-tiled GEMM for n > 1 (prefill).
func (m *Memory) Linear(w device.Weights, weight int, x, out device.Span, n int) error {
	t, wb, err := m.checkWeight(w, llmabi.Linear(weight, x, out, n))
	if err != nil {
		return err
	}
	rows, in := uint32(t.Shape[0]), uint32(t.Shape[1])
	sfx := dtSuffix(t.DType)
	c := llmCall{name: "linear", args: []operand.Operand{operand.In(x), operand.Out(out)}}
	return m.llmRun(&c, func(enc objc.ID) (int, error) {
		if n == 1 {
			name := "gemv_" + sfx
			tw, err := m.d.threads(name, 256)
			if err != nil {
				return 0, err
			}
			vec := uint32(0)
			if in%4 == 0 {
				vec = 1
			}
			groups, threads := grid1(ceilDiv(uint(rows), tw/simdWidth), tw)
			return one(m.d.dispatch(enc, name, []kernelArg{
				bufferArg(wb, 0), c.arg(0), c.arg(1), u32Arg(rows, in, vec),
			}, groups, threads))
		}
		name := "gemm_" + sfx
		groups := mtlSize{Width: ceilDiv(uint(rows), 16), Height: ceilDiv(uint(n), 16), Depth: 1}
		return one(m.d.dispatch(enc, name, []kernelArg{
			bufferArg(wb, 0), c.arg(0), c.arg(1), u32Arg(uint32(n), rows, in),
		}, groups, mtlSize{Width: 16, Height: 16, Depth: 1}))
	})
}

// RoPE rotates x in place: one thread per rotated pair.
func (m *Memory) RoPE(x, invFreq device.Span, n, heads, headDim, pos int) error {
	if err := llmabi.Check(m.size, nil, llmabi.RoPE(x, invFreq, n, heads, headDim, pos)); err != nil {
		return err
	}
	if uint64(pos)+uint64(n) > math.MaxUint32 {
		return fmt.Errorf("rope: positions %d+%d do not fit 32 bits", pos, n)
	}
	const name = "rope_f32"
	pairs := uint(n) * uint(heads) * uint(headDim/2)
	c := llmCall{name: "rope", args: []operand.Operand{operand.InOut(x), operand.In(invFreq)}}
	return m.llmRun(&c, func(enc objc.ID) (int, error) {
		return m.elementwise(enc, name, pairs, c.arg(0), c.arg(1),
			u32Arg(uint32(n), uint32(heads), uint32(headDim), uint32(pos)))
	})
}

// KVStore converts n rows of src to dt into cache rows pos..pos+n-1. Only
// those rows are touched (and, in copy mode, staged and copied back).
func (m *Memory) KVStore(src, cache device.Span, dt device.KVDType, n, pos, width int) error {
	if err := llmabi.Check(m.size, nil, llmabi.KVStore(src, cache, dt, n, pos, width)); err != nil {
		return err
	}
	row := uint64(width * dt.Size())
	rows := device.Span{Off: cache.Off + uint64(pos)*row, Len: uint64(n) * row}
	name := "kvstore_" + dtSuffix(string(dt))
	count := uint(n) * uint(width)
	c := llmCall{name: "kvstore", args: []operand.Operand{operand.In(src), operand.Out(rows)}}
	return m.llmRun(&c, func(enc objc.ID) (int, error) {
		// Row pos may start 2 bytes past a multiple of 4 (2-byte elements,
		// odd width): bind the cache at the aligned offset below it.
		off, base := bindOffset(c.off[1], dt.Size())
		return m.elementwise(enc, name, count, c.arg(0), bufferArg(c.buf[1], off),
			u32Arg(base, uint32(count)))
	})
}

// Attention runs causal grouped-query attention over cache rows
// 0..pos+n-1: one threadgroup per (query head, token), its SIMD groups
// splitting the context (see kernels/llm.metal).
func (m *Memory) Attention(q, kCache, vCache, out device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	if err := llmabi.Check(m.size, nil, llmabi.Attention(q, kCache, vCache, out, dt, n, pos, heads, kvHeads, headDim)); err != nil {
		return err
	}
	if headDim > attentionMaxHeadDim {
		return fmt.Errorf("attention: headDim %d is above the metal kernel's %d", headDim, attentionMaxHeadDim)
	}
	// Only the rows read are staged in copy mode.
	used := uint64(pos+n) * uint64(kvHeads*headDim*dt.Size())
	k := device.Span{Off: kCache.Off, Len: used}
	v := device.Span{Off: vCache.Off, Len: used}
	name := "attention_" + dtSuffix(string(dt))
	scale := float32(1 / math.Sqrt(float64(headDim)))
	c := llmCall{name: "attention", args: []operand.Operand{operand.In(q), operand.In(k), operand.In(v), operand.Out(out)}}
	return m.llmRun(&c, func(enc objc.ID) (int, error) {
		tw, err := m.d.threads(name, 256) // at most 8 SIMD groups: ATT_SG
		if err != nil {
			return 0, err
		}
		groups := mtlSize{Width: uint(heads), Height: uint(n), Depth: 1}
		return one(m.d.dispatch(enc, name, []kernelArg{
			c.arg(0), c.arg(1), c.arg(2), c.arg(3),
			u32Arg(uint32(pos), uint32(heads), uint32(kvHeads), uint32(headDim), f32Arg(scale)),
		}, groups, mtlSize{Width: tw, Height: 1, Depth: 1}))
	})
}

// SwiGLU writes silu(gate)·up to out (which may be gate).
func (m *Memory) SwiGLU(gate, up, out device.Span, count int) error {
	if err := llmabi.Check(m.size, nil, llmabi.SwiGLU(gate, up, out, count)); err != nil {
		return err
	}
	c := llmCall{name: "swiglu", args: []operand.Operand{operand.In(gate), operand.In(up), operand.Out(out)}}
	return m.llmRun(&c, func(enc objc.ID) (int, error) {
		return m.elementwise(enc, "swiglu_f32", uint(count), c.arg(0), c.arg(1), c.arg(2), u32Arg(uint32(count)))
	})
}

// Add does x += y.
func (m *Memory) Add(x, y device.Span, count int) error {
	if err := llmabi.Check(m.size, nil, llmabi.Add(x, y, count)); err != nil {
		return err
	}
	c := llmCall{name: "add", args: []operand.Operand{operand.InOut(x), operand.In(y)}}
	return m.llmRun(&c, func(enc objc.ID) (int, error) {
		return m.elementwise(enc, "add_f32", uint(count), c.arg(0), c.arg(1), u32Arg(uint32(count)))
	})
}

// Argmax writes each row's index of its largest value (first on ties):
// one threadgroup of up to 1024 threads per row.
func (m *Memory) Argmax(x, out device.Span, n, width int) error {
	if err := llmabi.Check(m.size, nil, llmabi.Argmax(x, out, n, width)); err != nil {
		return err
	}
	const name = "argmax_f32"
	c := llmCall{name: "argmax", args: []operand.Operand{operand.In(x), operand.Out(out)}}
	return m.llmRun(&c, func(enc objc.ID) (int, error) {
		return m.perRow(enc, name, 1024, uint(n), c.arg(0), c.arg(1), u32Arg(uint32(width)))
	})
}

// perRow dispatches kernel name with one threadgroup of up to want threads
// for each of rows rows.
func (m *Memory) perRow(enc objc.ID, name string, want, rows uint, args ...kernelArg) (int, error) {
	tw, err := m.d.threads(name, want)
	if err != nil {
		return 0, err
	}
	groups, threads := grid1(rows, tw)
	return one(m.d.dispatch(enc, name, args, groups, threads))
}

// elementwise dispatches a one-thread-per-item kernel over count items in
// threadgroups of 256 (the kernels bounds-check the overhang).
func (m *Memory) elementwise(enc objc.ID, name string, count uint, args ...kernelArg) (int, error) {
	tw, err := m.d.threads(name, 256)
	if err != nil {
		return 0, err
	}
	groups, threads := grid1(ceilDiv(count, tw), tw)
	return one(m.d.dispatch(enc, name, args, groups, threads))
}

// one is the result of an encode closure that made one dispatch.
func one(err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return 1, nil
}

// checkWeight validates c and returns its first weight tensor and that
// tensor's buffer.
func (m *Memory) checkWeight(w device.Weights, c llmabi.Call) (device.WeightTensor, objc.ID, error) {
	t, err := llmabi.Checked(m.size, w, c)
	if err != nil {
		return t, 0, err
	}
	b, err := m.weightBuf(c.Op.String(), w, c.W[0])
	return t, b, err
}
