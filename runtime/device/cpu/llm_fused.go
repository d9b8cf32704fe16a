package cpu

import (
	"github.com/wasmgpu/wasmgpu/internal/simd"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/operand"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// The fused ops, natively: each stages its operands once and runs its
// projections as one parallel region over the pool, where the definitions
// (runtime/device/internal/compose) would run a region and a staging round per
// basic op. The chunks of each weight matrix are the ones Linear uses
// (gemvGrain's, 8-row aligned, so each row meets the same simd kernel) and
// the elementwise steps are the basic kernels' own expressions, so the
// results are bit-identical to the definitions' (compose). The scratch spans
// (xb, tmp) are worked in place in zerocopy mode but never copied back in
// copy mode: the contract leaves their contents undefined.

// NormLinear normalizes x once and runs every projection in one region.
func (m *Memory) NormLinear(w device.Weights, norm int, weights []int, x, xb device.Span, outs []device.Span, n int, eps float32) error {
	c := llmabi.NormLinear(norm, weights, x, xb, outs, n, eps)
	if err := c.Validate(m.size, w); err != nil {
		return err
	}
	nt, ts := c.Tensor(w, 0), tensors(w, weights)
	ops := []operand.Operand{operand.In(x), operand.Scratch(xb)}
	for _, o := range outs {
		ops = append(ops, operand.Out(o))
	}
	st := m.stageOps(ops...)
	xv := f32s(st.views[1])
	rmsnorm(nt, f32s(st.views[0]), xv, n, eps)
	if n == 1 {
		var tasks []gemvTask
		for i, t := range ts {
			tasks = appendGemvTasks(tasks, i, t)
		}
		xp := packFor(ts, xv)
		parallel(m.stop, len(tasks), 1, func(_ *worker, lo, hi int) {
			for _, tk := range tasks[lo:hi] {
				gemvRows(ts[tk.mat], xv, xp, f32s(st.views[2+tk.mat])[tk.lo:tk.hi], tk.lo, tk.hi)
			}
		})
		if xp != nil {
			packPool.Put(xp)
		}
	} else {
		outs := make([][]float32, len(ts))
		for i := range ts {
			outs[i] = f32s(st.views[2+i])
		}
		gemm(m.stop, ts, xv, outs, n)
	}
	st.finish()
	return nil
}

// NormGLU normalizes x once and computes silu(gate)·up per chunk of rows,
// the up rows in the worker's scratch, in one region.
func (m *Memory) NormGLU(w device.Weights, norm, gate, up int, x, xb, tmp, outS device.Span, n int, eps float32) error {
	c := llmabi.NormGLU(norm, gate, up, x, xb, tmp, outS, n, eps)
	if err := c.Validate(m.size, w); err != nil {
		return err
	}
	nt, g, u := c.Tensor(w, 0), c.Tensor(w, 1), c.Tensor(w, 2)
	if n != 1 {
		st := m.stageOps(operand.In(x), operand.Scratch(xb), operand.Scratch(tmp), operand.Out(outS))
		xv, tv, ov := f32s(st.views[1]), f32s(st.views[2]), f32s(st.views[3])
		rmsnorm(nt, f32s(st.views[0]), xv, n, eps)
		rows := g.Shape[0]
		gemmThen(m.stop, []device.WeightTensor{g, u}, xv, ov, n, func(b batch, lo, hi int) {
			b.rows(u, tv, lo, hi)
			for t := range n {
				o := tokenRows(ov, t, rows, lo, hi)
				swiglu(o, tokenRows(tv, t, rows, lo, hi), o)
			}
		})
		st.finish()
		return nil
	}
	st := m.stageOps(operand.In(x), operand.Scratch(xb), operand.Out(outS))
	xv, ov := f32s(st.views[1]), f32s(st.views[2])
	rmsnorm(nt, f32s(st.views[0]), xv, 1, eps)
	tasks := appendGemvTasks(nil, 0, g)
	xp := packFor([]device.WeightTensor{g}, xv)
	parallel(m.stop, len(tasks), 1, func(wk *worker, lo, hi int) {
		for _, tk := range tasks[lo:hi] {
			o := ov[tk.lo:tk.hi]
			uv := wk.floats(tk.hi - tk.lo)
			gemvRows(g, xv, xp, o, tk.lo, tk.hi)
			gemvRows(u, xv, xp, uv, tk.lo, tk.hi)
			swiglu(o, uv, o)
		}
	})
	if xp != nil {
		packPool.Put(xp)
	}
	st.finish()
	return nil
}

// LinearAdd adds each chunk of the projection to resid as it is computed,
// from the worker's scratch, in one region.
func (m *Memory) LinearAdd(w device.Weights, weight int, x, tmp, resid device.Span, n int) error {
	c := llmabi.LinearAdd(weight, x, tmp, resid, n)
	if err := c.Validate(m.size, w); err != nil {
		return err
	}
	t := c.Tensor(w, 0)
	if n != 1 {
		st := m.stageOps(operand.In(x), operand.Scratch(tmp), operand.InOut(resid))
		tv, rv, rows := f32s(st.views[1]), f32s(st.views[2]), t.Shape[0]
		gemmThen(m.stop, []device.WeightTensor{t}, f32s(st.views[0]), tv, n, func(_ batch, lo, hi int) {
			for tk := range n {
				add(tokenRows(rv, tk, rows, lo, hi), tokenRows(tv, tk, rows, lo, hi))
			}
		})
		st.finish()
		return nil
	}
	st := m.stageOps(operand.In(x), operand.InOut(resid))
	xv, rv := f32s(st.views[0]), f32s(st.views[1])
	tasks := appendGemvTasks(nil, 0, t)
	xp := packFor([]device.WeightTensor{t}, xv)
	parallel(m.stop, len(tasks), 1, func(wk *worker, lo, hi int) {
		for _, tk := range tasks[lo:hi] {
			tv := wk.floats(tk.hi - tk.lo)
			gemvRows(t, xv, xp, tv, tk.lo, tk.hi)
			add(rv[tk.lo:tk.hi], tv)
		}
	})
	if xp != nil {
		packPool.Put(xp)
	}
	st.finish()
	return nil
}

// RoPEKV rotates q and k and stores k and v in one staging round.
func (m *Memory) RoPEKV(q, k, v, invFreq, kCache, vCache device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	if err := llmabi.Check(m.size, nil, llmabi.RoPEKV(q, k, v, invFreq, kCache, vCache, dt, n, pos, heads, kvHeads, headDim)); err != nil {
		return err
	}
	width := kvHeads * headDim
	// Only the rows written travel in copy mode, as in KVStore.
	row := uint64(width * dt.Size())
	kr := device.Span{Off: kCache.Off + uint64(pos)*row, Len: uint64(n) * row}
	vr := device.Span{Off: vCache.Off + uint64(pos)*row, Len: uint64(n) * row}
	st := m.stageOps(operand.InOut(q), operand.InOut(k), operand.In(v), operand.In(invFreq), operand.Out(kr), operand.Out(vr))
	fq := f32s(st.views[3])
	rope(f32s(st.views[0]), fq, n, heads, headDim, pos)
	rope(f32s(st.views[1]), fq, n, kvHeads, headDim, pos)
	kvstore(f32s(st.views[1]), st.views[4], dt, n*width)
	kvstore(f32s(st.views[2]), st.views[5], dt, n*width)
	st.finish()
	return nil
}

// gemvTask is one chunk of a decode GEMV: rows [lo, hi) of weight mat.
type gemvTask struct{ mat, lo, hi int }

// appendGemvTasks appends t's chunks as Linear splits a decode GEMV.
func appendGemvTasks(tasks []gemvTask, mat int, t device.WeightTensor) []gemvTask {
	return appendRowTasks(tasks, mat, t.Shape[0], gemvGrain(t))
}

// appendRowTasks appends chunks of grain rows of a weight of rows rows.
func appendRowTasks(tasks []gemvTask, mat, rows, grain int) []gemvTask {
	for lo := 0; lo < rows; lo += grain {
		tasks = append(tasks, gemvTask{mat, lo, min(lo+grain, rows)})
	}
	return tasks
}

// packFor returns x packed for the bf16 GEMV (from packPool) if any of ts is
// bf16, else nil.
func packFor(ts []device.WeightTensor, x []float32) *simd.PackedX {
	for _, t := range ts {
		if t.DType == "BF16" {
			xp := packPool.Get().(*simd.PackedX)
			xp.Pack(x[:t.Shape[1]])
			return xp
		}
	}
	return nil
}

// tensors looks up the projections of a validated NormLinear.
func tensors(w device.Weights, ids []int) []device.WeightTensor {
	var ts [device.NormLinearMax]device.WeightTensor
	for i, id := range ids {
		ts[i], _ = w.Tensor(id)
	}
	return ts[:len(ids)]
}
