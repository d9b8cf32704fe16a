//go:build darwin

package metal

import (
	"fmt"
	"time"

	"github.com/ebitengine/purego/objc"
)

// gemm_darwin.go runs fp32 GEMM with MPSMatrixMultiplication and owns the
// command-buffer round trip (commit, wait, status, GPU time) that every
// kernel call shares.

// gemmOperands are the buffers and byte offsets of A, B and C for one call:
// the no-copy buffer and the guest's offsets in zerocopy mode, the staging
// buffers at offset 0 in copy mode.
type gemmOperands struct {
	bufA, bufB, bufC objc.ID
	offA, offB, offC uint64
}

// encodeFunc encodes one GEMM into a command buffer. Objects it appends to
// keep are owned and released after the command buffer has completed.
type encodeFunc func(cb objc.ID, ops gemmOperands, m, n, k uint, keep *[]objc.ID) error

// gemmKey identifies a cached MPSMatrixMultiplication: the kernel object is
// fixed to its result and interior sizes at initialization.
type gemmKey struct{ m, n, k uint }

// maxCachedGemms bounds the kernel cache; when full it is emptied.
const maxCachedGemms = 64

// gemmKernel returns the cached MPSMatrixMultiplication for C(m×n) =
// 1·A(m×k)·B(k×n) + 0·C, making it on first use. The Device owns it.
func (d *Device) gemmKernel(m, n, k uint) (objc.ID, error) {
	key := gemmKey{m, n, k}
	if g, ok := d.gemms[key]; ok {
		return g, nil
	}
	if len(d.gemms) >= maxCachedGemms {
		for old, g := range d.gemms {
			release(g)
			delete(d.gemms, old)
		}
	}
	g := msg.gemmInit(alloc(rt.cls.mpsMatrixMultiplication), sel.initGemm,
		d.dev, false, false, m, n, k, 1.0, 0.0)
	if g == 0 {
		return 0, fmt.Errorf("MPSMatrixMultiplication initWithDevice:transposeLeft:transposeRight:resultRows:resultColumns:interiorColumns:alpha:beta: returned nil for %d×%d×%d", m, n, k)
	}
	d.gemms[key] = g
	return g, nil
}

// newMatrix wraps rows×cols row-major float32 at byte offset off of buf in an
// owned MPSMatrix (no copy: MPSMatrix is a view of the buffer).
// initWithBuffer:offset:descriptor: needs macOS 10.15; the buffer must hold
// offset + (rows-1)*rowBytes + cols*4 bytes, which checkGemm and the buffer
// sizes guarantee.
func newMatrix(buf objc.ID, off uint64, rows, cols uint) (objc.ID, error) {
	desc := msg.matrixDesc(objc.ID(rt.cls.mpsMatrixDescriptor), sel.matrixDescriptor,
		rows, cols, cols*4, mpsDataTypeFloat32) // autoreleased
	if desc == 0 {
		return 0, fmt.Errorf("MPSMatrixDescriptor matrixDescriptorWithRows:columns:rowBytes:dataType: returned nil for %d×%d", rows, cols)
	}
	mat := msg.matrixInit(alloc(rt.cls.mpsMatrix), sel.initWithBufferOffsetDescriptor, buf, uint(off), desc)
	if mat == 0 {
		return 0, fmt.Errorf("MPSMatrix initWithBuffer:offset:descriptor: returned nil for %d×%d at offset %d", rows, cols, off)
	}
	return mat, nil
}

// encodeMPSGemm encodes MPSMatrixMultiplication for C = A·B.
func (d *Device) encodeMPSGemm(cb objc.ID, ops gemmOperands, m, n, k uint, keep *[]objc.ID) error {
	g, err := d.gemmKernel(m, n, k)
	if err != nil {
		return err
	}
	a, err := newMatrix(ops.bufA, ops.offA, m, k)
	if err != nil {
		return fmt.Errorf("matrix A: %w", err)
	}
	*keep = append(*keep, a)
	b, err := newMatrix(ops.bufB, ops.offB, k, n)
	if err != nil {
		return fmt.Errorf("matrix B: %w", err)
	}
	*keep = append(*keep, b)
	c, err := newMatrix(ops.bufC, ops.offC, m, n)
	if err != nil {
		return fmt.Errorf("matrix C: %w", err)
	}
	*keep = append(*keep, c)
	msg.gemmEncode(g, sel.encodeGemm, cb, a, b, c)
	return nil
}

// runCommands makes a command buffer, lets encode fill it, commits it, waits
// for it, and returns the GPU time it took. It runs on the Metal thread,
// inside the request's autorelease pool, which drains the (autoreleased)
// command buffer when the request returns.
func (d *Device) runCommands(encode func(cb objc.ID, keep *[]objc.ID) error) (time.Duration, error) {
	var keep []objc.ID
	defer func() {
		for _, o := range keep {
			release(o)
		}
	}()
	cb := msg.id(d.queue, sel.commandBuffer)
	if cb == 0 {
		return 0, fmt.Errorf("commandBuffer returned nil")
	}
	if err := encode(cb, &keep); err != nil {
		return 0, err // never committed: the pool frees it
	}
	msg.v(cb, sel.commit)
	msg.v(cb, sel.waitUntilDone)
	if st := msg.u(cb, sel.status); st != mtlCBStatusDone {
		return 0, fmt.Errorf("command buffer ended with status %d (want %d, completed): %s",
			st, mtlCBStatusDone, nsErrorText(msg.id(cb, sel.error)))
	}
	// GPUStartTime/GPUEndTime are CFTimeInterval seconds on the host's
	// mach_absolute_time clock (macOS 10.15+).
	start, end := msg.f(cb, sel.gpuStartTime), msg.f(cb, sel.gpuEndTime)
	if end < start {
		return 0, nil
	}
	return time.Duration((end - start) * float64(time.Second)), nil
}
