package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/operand"
)

// How an LLM op reaches its operands and queues its kernels: resolve each
// span to a device address in the Memory's mode (staging it in copy mode),
// pack arguments straight into the Memory's argument block, launch on the
// Memory's stream, and copy outputs back in copy mode. Nothing here
// allocates or synchronizes on the hot path; device buffers grow (with a
// stream sync) only when an op needs more scratch than any before it.

// llmState is a Memory's LLM resources, made on its first op.
type llmState struct {
	k       *llmKernels
	sms     int
	stage   devBuf     // copy mode: the operands of one op
	scratch devBuf     // bf16 activations for prefill GEMMs, attention partials
	parts   devBuf     // argmax's per-block partial results
	tokens  []int32    // resident mode: token ids read back for the range check
	managed managedLLM // managed mode: pages kept in place (llm_managed.go)

	rec       *recording   // set while a program's ops are queued (program.go)
	pdl       bool         // launches overlap (llm_pdl.go)
	launchCfg launchConfig // cuLaunchKernelEx's argument, reused
	pdlAttr   launchAttr   // its one attribute
}

// llmKernels are the compiled kernels, by weight or cache dtype (0 bf16, 1
// f16, 2 f32; the tensor-core attention kernels bf16 and f16 only).
type llmKernels struct {
	embed, rmsnorm, gemm, kvstore, attention, rmsnormBF16 [3]*Kernel
	gemvFused, gemvFusedSmem, ropeKV                      [3]*Kernel
	attnDecode64, attnDecode128, attnPrefill              [2]*Kernel
	split, toBF16, rope, combine, swiglu, add, argmax     *Kernel
	argmaxPart, argmaxFinal                               *Kernel
}

// kernelRef is one kernel of llmKernels and its extern "C" name.
type kernelRef struct {
	dst  **Kernel
	name string
}

// refs lists every kernel of k with its name: what loadLLMKernels looks up,
// and what the kernel compile test checks the sources define.
func (k *llmKernels) refs() []kernelRef {
	var rs []kernelRef
	for i, s := range []string{"bf16", "f16", "f32"} {
		rs = append(rs, []kernelRef{{&k.embed[i], "embed_" + s}, {&k.rmsnorm[i], "rmsnorm_" + s},
			{&k.gemm[i], "gemm_" + s}, {&k.kvstore[i], "kvstore_" + s}, {&k.attention[i], "attention_" + s},
			{&k.gemvFused[i], "gemv_fused_" + s}, {&k.gemvFusedSmem[i], "gemv_fused_smem_" + s},
			{&k.ropeKV[i], "rope_kv_" + s}, {&k.rmsnormBF16[i], "rmsnorm_to_bf16_" + s}}...)
	}
	for i, s := range []string{"bf16", "f16"} {
		rs = append(rs, []kernelRef{{&k.attnDecode64[i], "attn_decode_" + s + "_64"},
			{&k.attnDecode128[i], "attn_decode_" + s + "_128"}, {&k.attnPrefill[i], "attn_prefill_" + s}}...)
	}
	return append(rs, []kernelRef{{&k.split, "split_bf16"}, {&k.toBF16, "to_bf16"}, {&k.rope, "rope_f32"},
		{&k.combine, "attn_combine"}, {&k.swiglu, "swiglu_f32"}, {&k.add, "add_f32"}, {&k.argmax, "argmax_f32"},
		{&k.argmaxPart, "argmax_part_f32"}, {&k.argmaxFinal, "argmax_final_f32"}}...)
}

// loadLLMKernels looks every kernel up once per Memory.
func (m *Memory) loadLLMKernels() error {
	if m.llm.k != nil {
		return nil
	}
	k := &llmKernels{}
	for _, r := range k.refs() {
		kk, err := m.d.Kernel(r.name)
		if err != nil {
			return err
		}
		*r.dst = kk
	}
	m.llm.sms = max(m.d.attr(attrMultiprocessorCount), 1)
	m.setupPDL()
	m.llm.k = k
	return nil
}

// dtIndex maps a weight or KV dtype to the kernels' index; -1 if unknown.
func dtIndex(dt string) int {
	e, _ := device.ElemType(dt)
	switch e {
	case device.KVBF16:
		return 0
	case device.KVF16:
		return 1
	case device.KVF32:
		return 2
	}
	return -1
}

// maxLLMArgs bounds an op's spans.
const maxLLMArgs = 6

// llmCall is one op in flight: its spans and their device addresses.
type llmCall struct {
	name string
	n    int
	args [maxLLMArgs]operand.Operand
	ptr  [maxLLMArgs]uint64
	same [maxLLMArgs]int // copy mode: index of an earlier identical span, or -1
}

// llmRun enters the context, resolves c's spans (staging inputs in copy
// mode), runs body to queue the kernels, copies outputs back in copy mode
// and leaves. The spans have been checked against the Memory's size.
func (m *Memory) llmRun(c *llmCall, body func() error) error {
	if m.closed {
		return errClosed
	}
	d := m.d
	if err := d.enter(); err != nil {
		return fmt.Errorf("cuda: %s: %w", c.name, err)
	}
	defer d.leave()
	if err := m.loadLLMKernels(); err != nil {
		return fmt.Errorf("cuda: %s: %w", c.name, err)
	}
	if err := m.resolve(c); err != nil {
		return fmt.Errorf("cuda: %s: %w", c.name, err)
	}
	if m.mode == device.Managed {
		for i := range c.n {
			if err := m.settle(c.args[i].S); err != nil {
				return fmt.Errorf("cuda: %s: %w", c.name, err)
			}
			if err := m.toDevice(c.args[i].S); err != nil {
				return fmt.Errorf("cuda: %s: %w", c.name, err)
			}
		}
	}
	if err := body(); err != nil {
		return fmt.Errorf("cuda: %s: %w", c.name, err)
	}
	if m.mode == device.Copy {
		for i := range c.n {
			a := c.args[i]
			if a.Out && c.same[i] < 0 {
				if err := d.drv.check("cuMemcpyDtoHAsync", call(d.drv.cuMemcpyDtoHAsync, m.base+uintptr(a.S.Off), uintptr(c.ptr[i]), uintptr(a.S.Len), m.stream)); err != nil {
					return fmt.Errorf("cuda: %s: %w", c.name, err)
				}
				m.stats.CopiedBytes += a.S.Len
			}
		}
	}
	return nil
}

// resolve fills c.ptr: the linear memory's own addresses in mapped and
// managed modes, the mirror's in resident mode; in copy mode, regions of
// the Memory's staging buffer, with the inputs copied in. A span equal to
// an earlier one (an in-place op) shares its address.
func (m *Memory) resolve(c *llmCall) error {
	switch m.mode {
	case device.Managed:
		for i := range c.n {
			c.ptr[i] = uint64(m.base) + c.args[i].S.Off
		}
	case device.Resident:
		for i := range c.n {
			c.ptr[i] = m.mirror + c.args[i].S.Off
		}
	case device.Mapped:
		for i := range c.n {
			p, err := m.mappedAddr(c.args[i].S)
			if err != nil {
				return err
			}
			c.ptr[i] = p
		}
	case device.Copy:
		var total uint64
		operand.Same(c.args[:c.n], c.same[:0])
		for i := range c.n {
			if c.same[i] < 0 {
				total += alignUp(c.args[i].S.Len, weightAlign)
			}
		}
		if err := m.growLLMBuf(&m.llm.stage, total, true); err != nil {
			return err
		}
		at := m.llm.stage.ptr
		for i := range c.n {
			if j := c.same[i]; j >= 0 {
				c.ptr[i] = c.ptr[j]
				continue
			}
			c.ptr[i] = at
			at += alignUp(c.args[i].S.Len, weightAlign)
		}
		for i := range c.n {
			a := c.args[i]
			if a.In && c.same[i] < 0 {
				if err := m.d.drv.check("cuMemcpyHtoDAsync", call(m.d.drv.cuMemcpyHtoDAsync, uintptr(c.ptr[i]), m.base+uintptr(a.S.Off), uintptr(a.S.Len), m.stream)); err != nil {
					return err
				}
				m.stats.CopiedBytes += a.S.Len
			}
		}
	}
	return nil
}

// growLLMBuf makes b hold at least n bytes. Queued work may still use the
// old buffer, so the stream is drained before it is freed. The context
// must be current.
func (m *Memory) growLLMBuf(b *devBuf, n uint64, staging bool) error {
	if b.cap >= n {
		return nil
	}
	if r := m.llm.rec; r != nil && r.capturing {
		return fmt.Errorf("a program's graph needs %d bytes of scratch its first run did not (it has %d)", n, b.cap)
	}
	drv := m.d.drv
	if b.ptr != 0 {
		if err := drv.check("cuStreamSynchronize", call(drv.cuStreamSynchronize, m.stream)); err != nil {
			return err
		}
		if err := drv.check("cuMemFree", call(drv.cuMemFree, uintptr(b.ptr))); err != nil {
			return err
		}
		m.d.liveDevice.Add(-int64(b.cap))
		m.stats.DeviceBytes -= b.cap
		if staging {
			m.stats.StagingBytes -= b.cap
		}
		*b = devBuf{}
	}
	c := alignUp(n, stageAlign)
	var p uint64
	if err := drv.check("cuMemAlloc", call(drv.cuMemAlloc, uintptr(unsafe.Pointer(&p)), uintptr(c))); err != nil {
		return fmt.Errorf("scratch of %d bytes: %w", c, err)
	}
	*b = devBuf{ptr: p, cap: c}
	m.d.liveDevice.Add(int64(c))
	m.stats.DeviceBytes += c
	if staging {
		m.stats.StagingBytes += c
	}
	return nil
}

// freeLLM releases the Memory's LLM buffers; the context must be current
// and the stream idle.
func (m *Memory) freeLLM() []error {
	var errs []error
	for _, b := range []*devBuf{&m.llm.stage, &m.llm.scratch, &m.llm.parts} {
		if b.ptr != 0 {
			errs = append(errs, m.d.drv.check("cuMemFree", call(m.d.drv.cuMemFree, uintptr(b.ptr))))
			m.d.liveDevice.Add(-int64(b.cap))
			*b = devBuf{}
		}
	}
	return append(errs, m.freeManagedLLM()...)
}

// setArgs packs a launch's arguments into the Memory's argument block, in
// order: device addresses and u64 counts as they are, int and float32
// arguments through i32 and f32bits.
func (m *Memory) setArgs(vals ...uint64) { copy(m.args.slots[:], vals) }

// i32 is an int kernel argument's slot value.
func i32(v int) uint64 { return uint64(uint32(int32(v))) }

// f32bits is a float kernel argument's slot value.
func f32bits(v float32) uint64 { return uint64(math.Float32bits(v)) }

func alignUp(n, a uint64) uint64 { return (n + a - 1) &^ (a - 1) }
func ceilDiv(a, b int) int       { return (a + b - 1) / b }
func gridFor(count, block, cap int) Dim3 {
	return Dim3{X: uint32(max(1, min(ceilDiv(count, block), cap)))}
}

// launch queues k with the arguments already packed. The context is current.
// Where the device allows (llmPDL), the launch lets k start before the
// previous kernel in the stream ends: see llm_pdl.go.
func (m *Memory) launch(k *Kernel, grid, block Dim3, shmem uint32) error {
	gx, gy, gz := grid.norm()
	bx, by, bz := block.norm()
	var r int32
	if m.llm.pdl {
		c := &m.llm.launchCfg
		c.gridX, c.gridY, c.gridZ = uint32(gx), uint32(gy), uint32(gz)
		c.blockX, c.blockY, c.blockZ = uint32(bx), uint32(by), uint32(bz)
		c.sharedMem, c.stream = shmem, m.stream
		r = call(m.d.drv.cuLaunchKernelEx, uintptr(unsafe.Pointer(c)), k.fn, uintptr(unsafe.Pointer(&m.args.ptrs[0])), 0)
	} else {
		r = call(m.d.drv.cuLaunchKernel, k.fn, gx, gy, gz, bx, by, bz, uintptr(shmem), m.stream,
			uintptr(unsafe.Pointer(&m.args.ptrs[0])), 0)
	}
	if r != 0 {
		return fmt.Errorf("launch %s: %w", k.Name, m.d.drv.check("cuLaunchKernel", r))
	}
	m.stats.KernelsLaunch++
	return nil
}

// elementwiseGrid is the grid of the grid-stride elementwise kernels:
// enough blocks of 256 to fill the card, no more.
func (m *Memory) elementwiseGrid(count int) Dim3 { return gridFor(count, 256, m.llm.sms*8) }
