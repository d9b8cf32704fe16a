package cuda

import (
	"fmt"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/operand"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// The device.LLMOps methods. Each validates its call as every backend does
// (llmabi.Call.Validate: the same errors everywhere), then queues one to three
// kernels on the Memory's stream and returns without waiting; Sync waits.
// In copy mode each op copies its input spans to device staging and its
// outputs back, so a copy-mode op is complete, though not waited for, when
// it returns.

// weights returns w as this device's *Weights and tensor id's device address.
func (m *Memory) weights(op string, w device.Weights, id int) (uint64, error) {
	cw, ok := w.(*Weights)
	if !ok || cw.d != m.d {
		return 0, fmt.Errorf("%s: weights were not loaded by this cuda device", op)
	}
	return cw.ptrs[id], nil // the Check helper has looked id up already
}

// checkWeight validates c and returns its first weight tensor and that
// tensor's device address.
func (m *Memory) checkWeight(w device.Weights, c llmabi.Call) (device.WeightTensor, uint64, error) {
	t, err := llmabi.Checked(m.size, w, c)
	if err != nil {
		return t, 0, err
	}
	p, err := m.weights(c.Op.String(), w, c.W[0])
	return t, p, err
}

// Embed writes rows tokens[t] of the table to out as float32. Token ids are
// data, so they are read here and each checked against the table (in
// resident mode from the device mirror, which costs a synchronization).
func (m *Memory) Embed(w device.Weights, table int, tokens, out device.Span, n int) error {
	t, wp, err := m.checkWeight(w, llmabi.Embed(table, tokens, out, n))
	if err != nil {
		return err
	}
	if r := m.llm.rec; r != nil && r.ids != 0 {
		// In a program the ids are in its parameter block, checked by Run
		// (program.go).
		c := llmCall{name: "embed", n: 1, args: [maxLLMArgs]operand.Operand{operand.Out(out)}}
		return m.llmRun(&c, func() error {
			m.setArgs(wp, r.ids, c.ptr[0], i32(t.Shape[0]), i32(t.Shape[1]))
			return m.launch(m.llm.k.embed[dtIndex(t.DType)], Dim3{X: uint32(n)}, Dim3{X: 256}, 0)
		})
	}
	if m.hostIO() && m.llm.managed.pendN != 0 {
		// The ids may be argmax indices not yet copied in.
		if err := m.d.enter(); err != nil {
			return err
		}
		err := m.settle(tokens)
		m.d.leave()
		if err != nil {
			return fmt.Errorf("cuda: embed: %w", err)
		}
	}
	ids, err := m.checkTokens(tokens, n, t.Shape[0])
	if err != nil {
		return err
	}
	if m.hostIO() {
		// The kernel reads the ids just checked from a device copy, not
		// from the managed page the engine writes them to (llm_managed.go).
		mm := &m.llm.managed
		mm.idsHost = append(mm.idsHost[:0], ids...)
		c := llmCall{name: "embed", n: 1, args: [maxLLMArgs]operand.Operand{operand.Out(out)}}
		return m.llmRun(&c, func() error {
			if err := m.growLLMBuf(&mm.ids, uint64(4*n), false); err != nil {
				return err
			}
			if err := m.d.drv.check("cuMemcpyHtoDAsync", call(m.d.drv.cuMemcpyHtoDAsync, uintptr(mm.ids.ptr), uintptr(unsafe.Pointer(&mm.idsHost[0])), uintptr(4*n), m.stream)); err != nil {
				return err
			}
			m.setArgs(wp, mm.ids.ptr, c.ptr[0], i32(t.Shape[0]), i32(t.Shape[1]))
			return m.launch(m.llm.k.embed[dtIndex(t.DType)], Dim3{X: uint32(n)}, Dim3{X: 256}, 0)
		})
	}
	c := llmCall{name: "embed", n: 2, args: [maxLLMArgs]operand.Operand{operand.In(tokens), operand.Out(out)}}
	return m.llmRun(&c, func() error {
		m.setArgs(wp, c.ptr[0], c.ptr[1], i32(t.Shape[0]), i32(t.Shape[1]))
		return m.launch(m.llm.k.embed[dtIndex(t.DType)], Dim3{X: uint32(n)}, Dim3{X: 256}, 0)
	})
}

// checkTokens fails if a token id in the span is outside [0, vocab), and
// returns the ids: a view of the linear memory, or in resident mode of a
// buffer read back from the mirror.
func (m *Memory) checkTokens(tokens device.Span, n, vocab int) ([]int32, error) {
	var ids []int32
	if m.mode == device.Resident {
		if m.closed {
			return nil, errClosed
		}
		if cap(m.llm.tokens) < n {
			m.llm.tokens = make([]int32, n)
		}
		ids = m.llm.tokens[:n]
		d := m.d
		if err := d.enter(); err != nil {
			return nil, err
		}
		err := d.drv.check("cuMemcpyDtoHAsync", call(d.drv.cuMemcpyDtoHAsync, uintptr(unsafe.Pointer(&ids[0])), uintptr(m.mirror+tokens.Off), uintptr(4*n), m.stream))
		if err == nil {
			err = d.drv.check("cuStreamSynchronize", call(d.drv.cuStreamSynchronize, m.stream))
		}
		d.leave()
		if err != nil {
			return nil, fmt.Errorf("cuda: embed: read token ids: %w", err)
		}
	} else {
		if m.buf == nil {
			return nil, errClosed
		}
		ids = unsafe.Slice((*int32)(unsafe.Pointer(&m.buf[tokens.Off])), n)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= vocab {
			return nil, fmt.Errorf("embed: token %d at row %d is outside the table's %d rows", id, i, vocab)
		}
	}
	return ids, nil
}

// RMSNorm normalizes each row of x into out (which may be x): one block per row.
func (m *Memory) RMSNorm(w device.Weights, weight int, x, out device.Span, n int, eps float32) error {
	t, wp, err := m.checkWeight(w, llmabi.RMSNorm(weight, x, out, n, eps))
	if err != nil {
		return err
	}
	c := llmCall{name: "rmsnorm", n: 2, args: [maxLLMArgs]operand.Operand{operand.In(x), operand.Out(out)}}
	return m.llmRun(&c, func() error {
		m.setArgs(wp, c.ptr[0], c.ptr[1], i32(t.Shape[0]), f32bits(eps))
		return m.launch(m.llm.k.rmsnorm[dtIndex(t.DType)], Dim3{X: uint32(n)}, Dim3{X: 256}, 0)
	})
}

// Linear computes out = x·Wᵀ; see llm_linear.go.
func (m *Memory) Linear(w device.Weights, weight int, x, out device.Span, n int) error {
	t, wp, err := m.checkWeight(w, llmabi.Linear(weight, x, out, n))
	if err != nil {
		return err
	}
	c := llmCall{name: "linear", n: 2, args: [maxLLMArgs]operand.Operand{operand.In(x), operand.Out(out)}}
	return m.llmRun(&c, func() error {
		return m.linear(wp, dtIndex(t.DType), c.ptr[0], c.ptr[1], n, t.Shape[0], t.Shape[1])
	})
}

// RoPE rotates x in place: one thread per rotated pair.
func (m *Memory) RoPE(x, invFreq device.Span, n, heads, headDim, pos int) error {
	if err := llmabi.Check(m.size, nil, llmabi.RoPE(x, invFreq, n, heads, headDim, pos)); err != nil {
		return err
	}
	c := llmCall{name: "rope", n: 2, args: [maxLLMArgs]operand.Operand{operand.InOut(x), operand.In(invFreq)}}
	return m.llmRun(&c, func() error {
		m.setArgs(c.ptr[0], c.ptr[1], i32(n), i32(heads), i32(headDim), i32(pos), m.posSlot())
		return m.launch(m.llm.k.rope, m.elementwiseGrid(n*heads*headDim/2), Dim3{X: 256}, 0)
	})
}

// KVStore converts n rows of src to dt into cache rows pos..pos+n-1. Only
// those rows are touched (and, in copy mode, copied back). In a program
// (program.go) the kernel gets the whole cache and takes pos from the
// program's parameter block.
func (m *Memory) KVStore(src, cache device.Span, dt device.KVDType, n, pos, width int) error {
	if err := llmabi.Check(m.size, nil, llmabi.KVStore(src, cache, dt, n, pos, width)); err != nil {
		return err
	}
	rows, rowBase := kvRows(cache, dt, n, pos, width), pos
	if m.posSlot() != 0 {
		rows, rowBase = cache, 0
	}
	c := llmCall{name: "kvstore", n: 2, args: [maxLLMArgs]operand.Operand{operand.In(src), operand.Out(rows)}}
	return m.llmRun(&c, func() error {
		if err := m.toDevice(cache); err != nil { // the whole cache once, not row by row
			return err
		}
		m.setArgs(c.ptr[0], c.ptr[1], i32(n), i32(width), i32(pos), m.posSlot(), i32(rowBase))
		return m.launch(m.llm.k.kvstore[dtIndex(string(dt))], m.elementwiseGrid(n*width), Dim3{X: 256}, 0)
	})
}

// kvRows is the span of cache rows pos..pos+n-1 of a cache of width-wide
// rows of dt.
func kvRows(cache device.Span, dt device.KVDType, n, pos, width int) device.Span {
	row := uint64(width * dt.Size())
	return device.Span{Off: cache.Off + uint64(pos)*row, Len: uint64(n) * row}
}

// SwiGLU writes silu(gate)·up to out (which may be gate).
func (m *Memory) SwiGLU(gate, up, out device.Span, count int) error {
	if err := llmabi.Check(m.size, nil, llmabi.SwiGLU(gate, up, out, count)); err != nil {
		return err
	}
	c := llmCall{name: "swiglu", n: 3, args: [maxLLMArgs]operand.Operand{operand.In(gate), operand.In(up), operand.Out(out)}}
	return m.llmRun(&c, func() error {
		m.setArgs(c.ptr[0], c.ptr[1], c.ptr[2], uint64(count))
		return m.launch(m.llm.k.swiglu, m.elementwiseGrid(count), Dim3{X: 256}, 0)
	})
}

// Add does x += y.
func (m *Memory) Add(x, y device.Span, count int) error {
	if err := llmabi.Check(m.size, nil, llmabi.Add(x, y, count)); err != nil {
		return err
	}
	c := llmCall{name: "add", n: 2, args: [maxLLMArgs]operand.Operand{operand.InOut(x), operand.In(y)}}
	return m.llmRun(&c, func() error {
		m.setArgs(c.ptr[0], c.ptr[1], uint64(count))
		return m.launch(m.llm.k.add, m.elementwiseGrid(count), Dim3{X: 256}, 0)
	})
}

// Argmax writes each row's index of its largest value (first on ties):
// one block of 1024 threads per row, or for wide rows many blocks a row
// and a second kernel that reduces theirs (argmax).
func (m *Memory) Argmax(x, out device.Span, n, width int) error {
	if err := llmabi.Check(m.size, nil, llmabi.Argmax(x, out, n, width)); err != nil {
		return err
	}
	if m.hostIO() {
		// Indices go to page-locked host memory; Sync copies them into out
		// (llm_managed.go), so the page the engine reads stays on the host.
		c := llmCall{name: "argmax", n: 1, args: [maxLLMArgs]operand.Operand{operand.In(x)}}
		return m.llmRun(&c, func() error {
			n4 := uint64(4 * n)
			dp, err := m.argmaxOut(out.Off, n4)
			if err != nil {
				return err
			}
			if err := m.argmax(c.ptr[0], dp, n, width); err != nil {
				return err
			}
			mm := &m.llm.managed
			mm.pendOff, mm.pendN, mm.pendSrc = out.Off, n4, mm.out.host
			return nil
		})
	}
	c := llmCall{name: "argmax", n: 2, args: [maxLLMArgs]operand.Operand{operand.In(x), operand.Out(out)}}
	return m.llmRun(&c, func() error { return m.argmax(c.ptr[0], c.ptr[1], n, width) })
}

// argmaxSplitWidth is the row width from which Argmax splits each row over
// many blocks and reduces their results in a second kernel: one block
// scanning a vocabulary is slow (RATIONALE.md, cuda).
const argmaxSplitWidth = 8192

// argmax queues the argmax of n rows of width floats at x into the int32s
// at out. The context is current.
func (m *Memory) argmax(x, out uint64, n, width int) error {
	k := m.llm.k
	if width < argmaxSplitWidth {
		m.setArgs(x, out, i32(width))
		return m.launch(k.argmax, Dim3{X: uint32(n)}, Dim3{X: 1024}, 0)
	}
	parts := min(ceilDiv(width, 2048), 1024)
	if err := m.growLLMBuf(&m.llm.parts, uint64(8*n*parts), false); err != nil {
		return err
	}
	pv, pi := m.llm.parts.ptr, m.llm.parts.ptr+uint64(4*n*parts)
	m.setArgs(x, pv, pi, i32(width))
	if err := m.launch(k.argmaxPart, Dim3{X: uint32(parts), Y: uint32(n)}, Dim3{X: 256}, 0); err != nil {
		return err
	}
	m.setArgs(pv, pi, out, i32(parts))
	return m.launch(k.argmaxFinal, Dim3{X: uint32(n)}, Dim3{X: 1024}, 0)
}
