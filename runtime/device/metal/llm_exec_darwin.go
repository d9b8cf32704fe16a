//go:build darwin

package metal

import (
	"fmt"
	"unsafe"

	"github.com/ebitengine/purego/objc"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/operand"
)

// How an LLM op reaches the GPU.
//
// zerocopy: ops are encoded, in call order, into one command buffer with one
// compute encoder that stays open across ops, and run when Sync commits it
// (or every maxQueued dispatches). The encoder is the default serial kind
// (MTLDispatchTypeSerial: dispatches run in the order encoded, each seeing
// the writes of those before it, as Dawn relies on for WebGPU passes), so
// dependent ops need no explicit barrier, and one encoder saves the cost of
// an encoder per op (about 240 ops per Llama 1B token). MPS is not used:
// it would need the encoder ended for each GEMM. Every kernel gets the
// no-copy buffer over the linear memory at the guest's byte offsets. The
// command buffer and encoder are retained across the Metal thread's
// per-request autorelease pools and released after completion.
//
// copy: each op stages its input spans into a kept shared MTLBuffer (a
// memcpy: on unified memory that is the upload), runs in a command buffer
// of its own, waits, and copies its outputs back, so an op is complete when
// it returns. Batching like zerocopy is impossible here: an op's inputs are
// often the previous op's outputs, which exist only after it ran and was
// copied back. So copy mode also pays one GPU round trip per op, which is
// part of what a sandbox without shared memory pays.

// maxQueued bounds the kernels queued in one command buffer in zerocopy
// mode: an engine that never syncs gets its work submitted (and waited for)
// every maxQueued dispatches instead of growing one buffer without bound.
const maxQueued = 4096

// llmMem is a Memory's LLM state; it is touched only on the Metal thread.
type llmMem struct {
	cb, enc objc.ID // zerocopy: the open command buffer and compute encoder (retained), or 0
	queued  int     // dispatches encoded into cb
	err     error   // first failure of a submitted batch, reported by the next Sync
	stage   staging // copy mode: the operands of one op
	// onThread is set while a program's run executes its calls on the
	// Metal thread (llm_program_darwin.go): ops then encode directly
	// instead of sending each to the thread.
	onThread bool
}

// llmCall is one op: its spans and where the kernels find them.
type llmCall struct {
	name string
	args []operand.Operand
	buf  []objc.ID // buffer of each operand
	off  []uint64  // byte offset of each operand in its buffer
}

// arg binds operand i at its resolved buffer and offset.
func (c *llmCall) arg(i int) kernelArg { return bufferArg(c.buf[i], c.off[i]) }

// llmRun resolves c's spans in the Memory's mode and lets encode add the
// op's dispatches to enc: the open batch in zerocopy mode, a command buffer
// run and waited for at once in copy mode. The spans have been checked
// against the Memory's size.
func (m *Memory) llmRun(c *llmCall, encode func(enc objc.ID) (dispatches int, err error)) error {
	if m.closed {
		return fmt.Errorf("metal: %s: memory is closed", c.name)
	}
	if err := checkSpanSizes(c.args); err != nil {
		return fmt.Errorf("metal: %s: %w", c.name, err)
	}
	c.buf, c.off = make([]objc.ID, len(c.args)), make([]uint64, len(c.args))
	err := m.onMetal(func() error {
		if err := m.d.llmPipelines(); err != nil { // compiled already unless no weights were loaded
			return err
		}
		if m.mode == device.ZeroCopy {
			return m.llmQueue(c, encode)
		}
		return m.llmCopyRun(c, encode)
	})
	if err != nil {
		return fmt.Errorf("metal: %s: %w", c.name, err)
	}
	return nil
}

// onMetal runs fn on the Metal thread: directly when a program's run is
// there already (onThread), else through the worker.
func (m *Memory) onMetal(fn func() error) error {
	if m.llm.onThread {
		return fn()
	}
	return m.d.w.do(fn)
}

// llmQueue encodes c into the open batch (zerocopy).
func (m *Memory) llmQueue(c *llmCall, encode func(objc.ID) (int, error)) error {
	for i, a := range c.args {
		if m.buf == 0 || a.S.End() > m.bufLen {
			return fmt.Errorf("no-copy buffer of %d bytes does not cover operand %d (Grow not called?)", m.bufLen, i)
		}
		c.buf[i], c.off[i] = m.buf, a.S.Off
	}
	if m.llm.queued >= maxQueued {
		m.llmSubmit()
	}
	enc, err := m.llmEncoder()
	if err != nil {
		return err
	}
	n, err := encode(enc)
	m.llm.queued += n
	m.countKernels(n)
	return err
}

// llmEncoder returns the open compute encoder, making a command buffer and
// encoder when none is open.
func (m *Memory) llmEncoder() (objc.ID, error) {
	if m.llm.enc != 0 {
		return m.llm.enc, nil
	}
	cb := msg.id(m.d.queue, sel.commandBuffer) // autoreleased: retained below
	if cb == 0 {
		return 0, fmt.Errorf("commandBuffer returned nil")
	}
	enc := msg.id(cb, sel.computeCommandEncoder)
	if enc == 0 {
		return 0, fmt.Errorf("computeCommandEncoder returned nil")
	}
	m.llm.cb, m.llm.enc = retain(cb), retain(enc)
	return enc, nil
}

// llmSubmit ends the open batch, commits it and waits for it, keeping the
// first failure for Sync. It runs on the Metal thread; with nothing queued
// it does nothing.
func (m *Memory) llmSubmit() {
	l := &m.llm
	if l.cb == 0 {
		return
	}
	cb, enc, n := l.cb, l.enc, l.queued
	l.cb, l.enc, l.queued = 0, 0, 0
	msg.v(enc, sel.endEncoding)
	release(enc)
	msg.v(cb, sel.commit)
	msg.v(cb, sel.waitUntilDone)
	if st := msg.u(cb, sel.status); st != mtlCBStatusDone && l.err == nil {
		l.err = fmt.Errorf("command buffer of %d LLM kernels ended with status %d (want %d, completed): %s",
			n, st, mtlCBStatusDone, nsErrorText(msg.id(cb, sel.error)))
	}
	release(cb)
}

// llmSync submits the open batch and returns (and forgets) the first
// failure since the last Sync. It runs on the Metal thread.
func (m *Memory) llmSync() error {
	m.llmSubmit()
	err := m.llm.err
	m.llm.err = nil
	return err
}

// llmRelease waits for queued work and releases the LLM staging buffer;
// Close calls it on the Metal thread before the no-copy buffer goes.
func (m *Memory) llmRelease() {
	m.llmSubmit()
	if m.llm.stage.buf != 0 {
		release(m.llm.stage.buf)
		m.mu.Lock()
		m.stats.StagingBytes -= m.llm.stage.n
		m.mu.Unlock()
		m.llm.stage = staging{}
	}
}

// llmCopyRun runs c in copy mode: stage, encode into a command buffer of its
// own, commit, wait, copy outputs back.
func (m *Memory) llmCopyRun(c *llmCall, encode func(objc.ID) (int, error)) error {
	offs, same, total := stagePlan(c.args)
	if err := m.ensureLLMStage(total); err != nil {
		return err
	}
	st := m.llm.stage
	var copied uint64
	for i, a := range c.args {
		c.buf[i], c.off[i] = st.buf, offs[i]
		if a.In && same[i] < 0 {
			copy(unsafe.Slice((*byte)(unsafe.Add(st.ptr, offs[i])), a.S.Len), m.mem[a.S.Off:a.S.End()])
			copied += a.S.Len
		}
	}
	n := 0
	_, err := m.d.runCommands(func(cb objc.ID, _ *[]objc.ID) error {
		enc := msg.id(cb, sel.computeCommandEncoder)
		if enc == 0 {
			return fmt.Errorf("computeCommandEncoder returned nil")
		}
		var err error
		n, err = encode(enc)
		msg.v(enc, sel.endEncoding) // also on failure: an encoder must end before its buffer goes
		return err
	})
	m.countKernels(n)
	if err != nil {
		return err
	}
	for i, a := range c.args {
		if a.Out && same[i] < 0 {
			copy(m.mem[a.S.Off:a.S.End()], unsafe.Slice((*byte)(unsafe.Add(st.ptr, offs[i])), a.S.Len))
			copied += a.S.Len
		}
	}
	m.mu.Lock()
	m.stats.CopiedBytes += copied
	m.mu.Unlock()
	return nil
}

// ensureLLMStage makes the copy-mode staging buffer hold at least n bytes,
// replacing it by one of n rounded up to the page size when smaller. Copy
// mode never has work queued, so the old buffer is free to go.
func (m *Memory) ensureLLMStage(n uint64) error {
	return m.growStaging(&m.llm.stage, max(n, 1))
}

// countKernels adds n dispatches to the Memory's stats.
func (m *Memory) countKernels(n int) {
	m.mu.Lock()
	m.stats.KernelsLaunch += uint64(n)
	m.mu.Unlock()
}

// dispatch encodes one dispatch of the named LLM kernel into enc, with the
// arguments bound at the indices of their positions. Everything is checked
// before anything is encoded. It runs on the Metal thread.
func (d *Device) dispatch(enc objc.ID, name string, args []kernelArg, groups, threads mtlSize) error {
	p, err := d.checkDispatch(name, args, groups, threads)
	if err != nil {
		return err
	}
	encodeDispatch(enc, p, args, groups, threads)
	return nil
}

// pipe returns the pipeline of an LLM kernel (for its thread limit).
func (d *Device) pipe(name string) (pipeline, error) {
	p, ok := d.pipes[name]
	if !ok {
		return pipeline{}, fmt.Errorf("kernel %q was not compiled (weights not loaded on this device?)", name)
	}
	return p, nil
}

// threads is the threadgroup size of LLM kernel name: want threads
// (threadsFor), capped by its pipeline's limit.
func (d *Device) threads(name string, want uint) (uint, error) {
	p, err := d.pipe(name)
	if err != nil {
		return 0, err
	}
	return threadsFor(name, want, p.maxThreads)
}

// grid1 is a one-dimensional grid of groups threadgroups of threads each.
func grid1(groups, threads uint) (mtlSize, mtlSize) {
	return mtlSize{Width: groups, Height: 1, Depth: 1}, mtlSize{Width: threads, Height: 1, Depth: 1}
}
