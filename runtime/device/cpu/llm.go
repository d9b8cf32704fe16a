package cpu

import (
	"fmt"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// The cpu device as an LLMDevice: weights stay where the caller has them (a
// read-only mapping of model.safetensors, or synthetic bytes in the heap) and
// the kernels widen bf16/f16 to float32 element by element as they read, so
// loading costs no copy and no memory beyond the mapping itself.

var (
	_ device.LLMDevice = (*Device)(nil)
	_ device.LLMOps    = (*Memory)(nil)
)

// Weights are tensors the cpu kernels read in place.
type Weights struct {
	ts     []device.WeightTensor
	closed bool
}

// LoadWeights checks each tensor's dtype, shape and alignment and keeps a
// reference to its bytes (no copy): they must stay valid and unchanged until
// the Weights are closed. Tensor id i is ts[i].
func (d *Device) LoadWeights(ts []device.WeightTensor) (device.Weights, error) {
	keep := make([]device.WeightTensor, len(ts))
	for i, t := range ts {
		es := device.WeightDTypeSize(t.DType)
		if es == 0 {
			return nil, fmt.Errorf("cpu load weights: tensor %d (%s): dtype %q is not BF16, F16 or F32", i, t.Name, t.DType)
		}
		n := uint64(es)
		for _, dim := range t.Shape {
			if dim <= 0 || dim > 1<<31-1 {
				return nil, fmt.Errorf("cpu load weights: tensor %d (%s): bad shape %v", i, t.Name, t.Shape)
			}
			n *= uint64(dim) // at most rank 2 in use; checked below by length
		}
		if uint64(len(t.Data)) != n {
			return nil, fmt.Errorf("cpu load weights: tensor %d (%s): %s %v needs %d bytes, has %d", i, t.Name, t.DType, t.Shape, n, len(t.Data))
		}
		if len(t.Data) > 0 && uintptr(unsafe.Pointer(&t.Data[0]))%uintptr(es) != 0 {
			return nil, fmt.Errorf("cpu load weights: tensor %d (%s): data is not %d-byte aligned", i, t.Name, es)
		}
		t.Shape = append([]int(nil), t.Shape...)
		keep[i] = t
	}
	return &Weights{ts: keep}, nil
}

// Tensor returns tensor id, or false if there is none or the weights are closed.
func (w *Weights) Tensor(id int) (device.WeightTensor, bool) {
	if w.closed || id < 0 || id >= len(w.ts) {
		return device.WeightTensor{}, false
	}
	return w.ts[id], true
}

// DeviceBytes is 0: the weights stay in host memory.
func (w *Weights) DeviceBytes() uint64 { return 0 }

// Close drops the references; ops using the weights fail afterwards.
func (w *Weights) Close() error {
	w.closed, w.ts = true, nil
	return nil
}

// operand is one span an op touches: read, written, or both.
type operand struct {
	s       device.Span
	in, out bool
}

func in(s device.Span) operand    { return operand{s: s, in: true} }
func out(s device.Span) operand   { return operand{s: s, out: true} }
func inout(s device.Span) operand { return operand{s: s, in: true, out: true} }

// scratch is a span an op may use as working space: in copy mode it gets a
// staging region but is neither copied in nor back.
func scratch(s device.Span) operand { return operand{s: s} }

// staged is the bytes an op's kernel works on, one view per operand.
type staged struct {
	m     *Memory
	ops   []operand
	views [][]byte
}

// stageOps returns the views a kernel should use. In zerocopy mode they are
// the linear memory itself. In copy mode each operand gets its own region of
// the Memory's kept staging buffer, inputs copied in; finish copies outputs
// back. Spans must have been checked.
func (m *Memory) stageOps(ops ...operand) staged {
	st := staged{m: m, ops: ops, views: make([][]byte, len(ops))}
	if m.mode != device.Copy {
		for i, o := range ops {
			st.views[i] = m.buf[o.s.Off:o.s.End():o.s.End()]
		}
		return st
	}
	total := 0
	for _, o := range ops {
		total += int((o.s.Len + 63) / 64 * 16) // float32s, 64-byte aligned regions
	}
	buf := m.stage(total)
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), 4*len(buf))
	at := 0
	for i, o := range ops {
		v := raw[at : at+int(o.s.Len) : at+int(o.s.Len)]
		at += int((o.s.Len + 63) / 64 * 64)
		if o.in {
			copy(v, m.buf[o.s.Off:o.s.End()])
			m.stats.CopiedBytes += o.s.Len
		}
		st.views[i] = v
	}
	return st
}

// finish copies written operands back in copy mode and counts the kernel.
func (st staged) finish() {
	m := st.m
	if m.mode == device.Copy {
		for i, o := range st.ops {
			if o.out {
				copy(m.buf[o.s.Off:o.s.End()], st.views[i])
				m.stats.CopiedBytes += o.s.Len
			}
		}
	}
	m.stats.KernelsLaunch++
}

// Embed copies rows of the embedding table to out, widened to float32.
func (m *Memory) Embed(w device.Weights, table int, tokens, outS device.Span, n int) error {
	t, err := device.CheckEmbed(m.size, w, table, tokens, outS, n)
	if err != nil {
		return err
	}
	st := m.stageOps(in(tokens), out(outS))
	err = embed(t, i32s(st.views[0]), f32s(st.views[1]), n)
	st.finish()
	return err
}

// RMSNorm normalizes each row of x into out (which may be x).
func (m *Memory) RMSNorm(w device.Weights, weight int, x, outS device.Span, n int, eps float32) error {
	t, err := device.CheckRMSNorm(m.size, w, weight, x, outS, n, eps)
	if err != nil {
		return err
	}
	st := m.stageOps(in(x), out(outS))
	rmsnorm(t, f32s(st.views[0]), f32s(st.views[1]), n, eps)
	st.finish()
	return nil
}

// Linear computes out = x·Wᵀ over all cores.
func (m *Memory) Linear(w device.Weights, weight int, x, outS device.Span, n int) error {
	t, err := device.CheckLinear(m.size, w, weight, x, outS, n)
	if err != nil {
		return err
	}
	st := m.stageOps(in(x), out(outS))
	linear(m.stop, t, f32s(st.views[0]), f32s(st.views[1]), n)
	st.finish()
	return nil
}

// RoPE rotates x in place.
func (m *Memory) RoPE(x, invFreq device.Span, n, heads, headDim, pos int) error {
	if err := device.CheckRoPE(m.size, x, invFreq, n, heads, headDim, pos); err != nil {
		return err
	}
	st := m.stageOps(inout(x), in(invFreq))
	rope(f32s(st.views[0]), f32s(st.views[1]), n, heads, headDim, pos)
	st.finish()
	return nil
}

// KVStore writes n rows of src, converted to dt, into the cache at pos.
func (m *Memory) KVStore(src, cache device.Span, dt device.KVDType, n, pos, width int) error {
	if _, err := device.CheckKVStore(m.size, src, cache, dt, n, pos, width); err != nil {
		return err
	}
	// Only the rows written travel in copy mode, as a real device copy would.
	row := uint64(width * dt.Size())
	rows := device.Span{Off: cache.Off + uint64(pos)*row, Len: uint64(n) * row}
	st := m.stageOps(in(src), out(rows))
	kvstore(f32s(st.views[0]), st.views[1], dt, n*width)
	st.finish()
	return nil
}

// Attention runs causal grouped-query attention over the cache.
func (m *Memory) Attention(q, kCache, vCache, outS device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	if _, err := device.CheckAttention(m.size, q, kCache, vCache, outS, dt, n, pos, heads, kvHeads, headDim); err != nil {
		return err
	}
	// Only the rows read travel in copy mode.
	row := uint64(kvHeads * headDim * dt.Size())
	used := uint64(pos+n) * row
	k := device.Span{Off: kCache.Off, Len: used}
	v := device.Span{Off: vCache.Off, Len: used}
	st := m.stageOps(in(q), in(k), in(v), out(outS))
	attention(m.stop, f32s(st.views[0]), st.views[1], st.views[2], f32s(st.views[3]), dt, n, pos, heads, kvHeads, headDim)
	st.finish()
	return nil
}

// SwiGLU writes silu(gate)·up to out (which may be gate).
func (m *Memory) SwiGLU(gate, up, outS device.Span, count int) error {
	if err := device.CheckSwiGLU(m.size, gate, up, outS, count); err != nil {
		return err
	}
	st := m.stageOps(in(gate), in(up), out(outS))
	swiglu(f32s(st.views[0]), f32s(st.views[1]), f32s(st.views[2]))
	st.finish()
	return nil
}

// Add does x += y.
func (m *Memory) Add(x, y device.Span, count int) error {
	if err := device.CheckAdd(m.size, x, y, count); err != nil {
		return err
	}
	st := m.stageOps(inout(x), in(y))
	add(f32s(st.views[0]), f32s(st.views[1]))
	st.finish()
	return nil
}

// Argmax writes each row's index of its largest value.
func (m *Memory) Argmax(x, outS device.Span, n, width int) error {
	if err := device.CheckArgmax(m.size, x, outS, n, width); err != nil {
		return err
	}
	st := m.stageOps(in(x), out(outS))
	argmax(f32s(st.views[0]), i32s(st.views[1]), n, width)
	st.finish()
	return nil
}

// f32s views b (4-byte aligned, checked) as float32s.
func f32s(b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// i32s views b as int32s.
func i32s(b []byte) []int32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// u16 views b as uint16s.
func u16(b []byte) []uint16 {
	if len(b) < 2 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}
