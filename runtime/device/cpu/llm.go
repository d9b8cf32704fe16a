package cpu

import (
	"fmt"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/operand"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/weightset"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// The cpu device as an LLMDevice: weights stay where the caller has them (a
// read-only mapping of model.safetensors, or synthetic bytes in the heap) and
// the kernels widen bf16/f16 to float32 element by element as they read, so
// loading costs no copy and no memory beyond the mapping itself.

// Weights are tensors the cpu kernels read in place (DeviceBytes is 0).
type Weights struct{ weightset.Set }

var _ device.LLMDevice = (*Device)(nil)

// LoadWeights checks each tensor's dtype, shape and alignment and keeps a
// reference to its bytes (no copy): they must stay valid and unchanged until
// the Weights are closed. Tensor id i is ts[i].
func (d *Device) LoadWeights(ts []device.WeightTensor) (device.Weights, error) {
	s, err := weightset.New("cpu", ts, aligned)
	if err != nil {
		return nil, err
	}
	return &Weights{s}, nil
}

// aligned refuses bytes the kernels cannot read in place as their dtype.
func aligned(t device.WeightTensor) error {
	es := device.WeightDTypeSize(t.DType)
	if len(t.Data) > 0 && uintptr(unsafe.Pointer(&t.Data[0]))%uintptr(es) != 0 {
		return fmt.Errorf("data is not %d-byte aligned", es)
	}
	return nil
}

// Close drops the references; ops using the weights fail afterwards.
func (w *Weights) Close() error {
	w.Set.Close()
	return nil
}

// staged is the bytes an op's kernel works on, one view per operand.
type staged struct {
	m     *Memory
	ops   []operand.Operand
	views [][]byte
}

// stageOps returns the views a kernel should use. In zerocopy mode they are
// the linear memory itself. In copy mode each operand gets its own region of
// the Memory's kept staging buffer, inputs copied in; finish copies outputs
// back. Spans must have been checked.
func (m *Memory) stageOps(ops ...operand.Operand) staged {
	st := staged{m: m, ops: ops, views: make([][]byte, len(ops))}
	if m.mode != device.Copy {
		for i, o := range ops {
			st.views[i] = m.buf[o.S.Off:o.S.End():o.S.End()]
		}
		return st
	}
	total := 0
	for _, o := range ops {
		total += int((o.S.Len + 63) / 64 * 16) // float32s, 64-byte aligned regions
	}
	buf := m.stage(total)
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), 4*len(buf))
	at := 0
	for i, o := range ops {
		v := raw[at : at+int(o.S.Len) : at+int(o.S.Len)]
		at += int((o.S.Len + 63) / 64 * 64)
		if o.In {
			copy(v, m.buf[o.S.Off:o.S.End()])
			m.stats.CopiedBytes += o.S.Len
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
			if o.Out {
				copy(m.buf[o.S.Off:o.S.End()], st.views[i])
				m.stats.CopiedBytes += o.S.Len
			}
		}
	}
	m.stats.KernelsLaunch++
}

var _ device.LLMOps = (*Memory)(nil)

// Embed copies rows of the embedding table to out, widened to float32.
func (m *Memory) Embed(w device.Weights, table int, tokens, outS device.Span, n int) error {
	t, err := llmabi.Checked(m.size, w, llmabi.Embed(table, tokens, outS, n))
	if err != nil {
		return err
	}
	st := m.stageOps(operand.In(tokens), operand.Out(outS))
	err = embed(t, i32s(st.views[0]), f32s(st.views[1]), n)
	st.finish()
	return err
}

// RMSNorm normalizes each row of x into out (which may be x).
func (m *Memory) RMSNorm(w device.Weights, weight int, x, outS device.Span, n int, eps float32) error {
	t, err := llmabi.Checked(m.size, w, llmabi.RMSNorm(weight, x, outS, n, eps))
	if err != nil {
		return err
	}
	st := m.stageOps(operand.In(x), operand.Out(outS))
	rmsnorm(t, f32s(st.views[0]), f32s(st.views[1]), n, eps)
	st.finish()
	return nil
}

// Linear computes out = x·Wᵀ over all cores.
func (m *Memory) Linear(w device.Weights, weight int, x, outS device.Span, n int) error {
	t, err := llmabi.Checked(m.size, w, llmabi.Linear(weight, x, outS, n))
	if err != nil {
		return err
	}
	st := m.stageOps(operand.In(x), operand.Out(outS))
	linear(m.stop, t, f32s(st.views[0]), f32s(st.views[1]), n)
	st.finish()
	return nil
}

// RoPE rotates x in place.
func (m *Memory) RoPE(x, invFreq device.Span, n, heads, headDim, pos int) error {
	if err := llmabi.Check(m.size, nil, llmabi.RoPE(x, invFreq, n, heads, headDim, pos)); err != nil {
		return err
	}
	st := m.stageOps(operand.InOut(x), operand.In(invFreq))
	rope(f32s(st.views[0]), f32s(st.views[1]), n, heads, headDim, pos)
	st.finish()
	return nil
}

// KVStore writes n rows of src, converted to dt, into the cache at pos.
func (m *Memory) KVStore(src, cache device.Span, dt device.KVDType, n, pos, width int) error {
	if err := llmabi.Check(m.size, nil, llmabi.KVStore(src, cache, dt, n, pos, width)); err != nil {
		return err
	}
	// Only the rows written travel in copy mode, as a real device copy would.
	row := uint64(width * dt.Size())
	rows := device.Span{Off: cache.Off + uint64(pos)*row, Len: uint64(n) * row}
	st := m.stageOps(operand.In(src), operand.Out(rows))
	kvstore(f32s(st.views[0]), st.views[1], dt, n*width)
	st.finish()
	return nil
}

// Attention runs causal grouped-query attention over the cache.
func (m *Memory) Attention(q, kCache, vCache, outS device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	if err := llmabi.Check(m.size, nil, llmabi.Attention(q, kCache, vCache, outS, dt, n, pos, heads, kvHeads, headDim)); err != nil {
		return err
	}
	// Only the rows read travel in copy mode.
	row := uint64(kvHeads * headDim * dt.Size())
	used := uint64(pos+n) * row
	k := device.Span{Off: kCache.Off, Len: used}
	v := device.Span{Off: vCache.Off, Len: used}
	st := m.stageOps(operand.In(q), operand.In(k), operand.In(v), operand.Out(outS))
	attention(m.stop, f32s(st.views[0]), st.views[1], st.views[2], f32s(st.views[3]), dt, n, pos, heads, kvHeads, headDim)
	st.finish()
	return nil
}

// SwiGLU writes silu(gate)·up to out (which may be gate).
func (m *Memory) SwiGLU(gate, up, outS device.Span, count int) error {
	if err := llmabi.Check(m.size, nil, llmabi.SwiGLU(gate, up, outS, count)); err != nil {
		return err
	}
	st := m.stageOps(operand.In(gate), operand.In(up), operand.Out(outS))
	swiglu(f32s(st.views[0]), f32s(st.views[1]), f32s(st.views[2]))
	st.finish()
	return nil
}

// Add does x += y.
func (m *Memory) Add(x, y device.Span, count int) error {
	if err := llmabi.Check(m.size, nil, llmabi.Add(x, y, count)); err != nil {
		return err
	}
	st := m.stageOps(operand.InOut(x), operand.In(y))
	add(f32s(st.views[0]), f32s(st.views[1]))
	st.finish()
	return nil
}

// Argmax writes each row's index of its largest value.
func (m *Memory) Argmax(x, outS device.Span, n, width int) error {
	if err := llmabi.Check(m.size, nil, llmabi.Argmax(x, outS, n, width)); err != nil {
		return err
	}
	st := m.stageOps(operand.In(x), operand.Out(outS))
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
