//go:build darwin

package metal

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/ebitengine/purego/objc"

	"github.com/wasmgpu/wasmgpu/kernels"
)

// msl_darwin.go compiles the Metal Shading Language sources at run time and
// encodes compute dispatches. A binary built without cgo carries no
// Info.plist or SDK version, and Metal then compiles source as MSL 2.4 unless
// MTLCompileOptions.languageVersion says otherwise, so it is always set.

// pipeline is one compiled compute kernel.
type pipeline struct {
	name       string
	pso        objc.ID // owned MTLComputePipelineState
	maxThreads uint    // -maxTotalThreadsPerThreadgroup
	simdWidth  uint    // -threadExecutionWidth
}

// compileKernels builds the library from kernels.MetalSource and one
// pipeline per kernels.MetalKernels entry. It runs on the Metal thread.
func (d *Device) compileKernels() error {
	src, err := kernels.MetalSource()
	if err != nil {
		return fmt.Errorf("metal: %w", err)
	}
	if d.lib, err = d.newLibrary("the matmul kernels", src, true); err != nil {
		return err
	}
	for _, name := range kernels.MetalKernels {
		p, err := d.newPipeline(d.lib, name)
		if err != nil {
			return err
		}
		d.pipes[name] = p
	}
	return nil
}

// newLibrary compiles MSL source (what names it in errors) at the device's
// language version, with fast math on or off; the caller releases it. It
// runs on the Metal thread.
func (d *Device) newLibrary(what, src string, fastMath bool) (objc.ID, error) {
	nsSrc, err := newNSString(src)
	if err != nil {
		return 0, fmt.Errorf("metal: %s: %w", what, err)
	}
	defer release(nsSrc)
	opts := msg.id(alloc(rt.cls.mtlCompileOptions), sel.init)
	if opts == 0 {
		return 0, fmt.Errorf("metal: MTLCompileOptions alloc/init returned nil")
	}
	defer release(opts)
	msg.vU(opts, sel.setLanguageVersion, mtlLanguageVersion(d.msl[0], d.msl[1]))
	if !fastMath {
		llmMsg.vBool(opts, llmSel.setFastMathEnabled, false)
	}
	var nsErr objc.ID // autoreleased NSError, set on failure (and on warnings)
	lib := msg.idIDIDErr(d.dev, sel.newLibraryWithSource, nsSrc, opts, &nsErr)
	if lib == 0 {
		return 0, fmt.Errorf("metal: compile %s (MSL %d.%d): %s", what, d.msl[0], d.msl[1], nsErrorText(nsErr))
	}
	return lib, nil
}

// newPipeline makes the compute pipeline for one kernel function of lib.
func (d *Device) newPipeline(lib objc.ID, name string) (pipeline, error) {
	nsName, err := newNSString(name)
	if err != nil {
		return pipeline{}, fmt.Errorf("metal: kernel name %q: %w", name, err)
	}
	defer release(nsName)
	fn := msg.idID(lib, sel.newFunctionWithName, nsName)
	if fn == 0 {
		return pipeline{}, fmt.Errorf("metal: newFunctionWithName: %q returned nil: no such kernel in the library", name)
	}
	defer release(fn)
	var nsErr objc.ID
	pso := msg.idIDErr(d.dev, sel.newPipelineWithFunction, fn, &nsErr)
	if pso == 0 {
		return pipeline{}, fmt.Errorf("metal: newComputePipelineStateWithFunction:error: for %q: %s", name, nsErrorText(nsErr))
	}
	return pipeline{
		name:       name,
		pso:        pso,
		maxThreads: msg.u(pso, sel.maxTotalThreadsPerThreadgroup),
		simdWidth:  msg.u(pso, sel.threadExecutionWidth),
	}, nil
}

// kernelArg is one kernel argument, bound at the index of its position in
// the argument list: a buffer at a byte offset ([[buffer(i)]] device
// pointers), or a few bytes copied into the command stream (setBytes, for
// constant structs such as sizes).
type kernelArg struct {
	buf   objc.ID
	off   uint64
	bytes []byte
}

// bufferArg binds buf at byte offset off. For device-address-space buffers
// Apple requires off to be aligned to the element type the kernel reads (4
// bytes for float).
func bufferArg(buf objc.ID, off uint64) kernelArg { return kernelArg{buf: buf, off: off} }

// u32Arg binds a constant struct of uint32 fields, laid out as MSL lays out a
// struct of uint (4-byte aligned, no padding).
func u32Arg(vals ...uint32) kernelArg {
	b := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return kernelArg{bytes: b}
}

// maxSetBytes is Apple's limit for setBytes:length:atIndex: ("data less than
// 4 KB"); larger constants belong in a buffer.
const maxSetBytes = 4096

// grid2D covers a w×h grid of threads with threadgroups of the pipeline's
// SIMD width by as many rows as fit, and returns the threadgroup count and size
// for dispatchThreadgroups:threadsPerThreadgroup: (kernels bounds-check the
// overhang).
func grid2D(p pipeline, w, h uint) (groups, threads mtlSize) {
	tw := max(1, min(p.simdWidth, p.maxThreads))
	th := max(1, min(p.maxThreads/tw, 8))
	return mtlSize{Width: (w + tw - 1) / tw, Height: (h + th - 1) / th, Depth: 1},
		mtlSize{Width: tw, Height: th, Depth: 1}
}

// encodeKernel encodes one dispatch of the named kernel into cb. Everything
// is validated before the encoder is created, so a failed call leaves cb
// without an open encoder. It runs on the Metal thread.
func (d *Device) encodeKernel(cb objc.ID, name string, args []kernelArg, groups, threads mtlSize) error {
	p, err := d.checkDispatch(name, args, groups, threads)
	if err != nil {
		return fmt.Errorf("metal: %w", err)
	}
	enc := msg.id(cb, sel.computeCommandEncoder) // autoreleased
	if enc == 0 {
		return fmt.Errorf("metal: computeCommandEncoder returned nil for kernel %q", name)
	}
	encodeDispatch(enc, p, args, groups, threads)
	msg.v(enc, sel.endEncoding)
	return nil
}

// checkDispatch returns the pipeline of kernel name after checking a
// dispatch of it: compiled, threads within its limit, a non-empty grid,
// and each argument a buffer at a 4-byte aligned offset or 1..maxSetBytes
// bytes.
func (d *Device) checkDispatch(name string, args []kernelArg, groups, threads mtlSize) (pipeline, error) {
	p, ok := d.pipes[name]
	if !ok {
		return p, fmt.Errorf("kernel %q was not compiled (weights not loaded on this device?)", name)
	}
	if n := threads.Width * threads.Height * threads.Depth; n == 0 || n > p.maxThreads {
		return p, fmt.Errorf("kernel %q: %d threads per threadgroup, want 1..%d", name, n, p.maxThreads)
	}
	if groups.Width == 0 || groups.Height == 0 || groups.Depth == 0 {
		return p, fmt.Errorf("kernel %q: empty grid %v", name, groups)
	}
	for i, a := range args {
		if a.buf == 0 && (len(a.bytes) == 0 || len(a.bytes) > maxSetBytes) {
			return p, fmt.Errorf("kernel %q argument %d: want a buffer or 1..%d bytes, have %d bytes", name, i, maxSetBytes, len(a.bytes))
		}
		if a.buf != 0 && a.off%4 != 0 {
			return p, fmt.Errorf("kernel %q argument %d: buffer offset %d is not 4-byte aligned", name, i, a.off)
		}
	}
	return p, nil
}

// encodeDispatch binds p and args (at the indices of their positions) in
// enc and encodes one dispatch of groups threadgroups of threads. The
// arguments must have been checked.
func encodeDispatch(enc objc.ID, p pipeline, args []kernelArg, groups, threads mtlSize) {
	msg.vID(enc, sel.setComputePipelineState, p.pso)
	for i, a := range args {
		if a.buf != 0 {
			msg.setBuffer(enc, sel.setBuffer, a.buf, uint(a.off), uint(i))
		} else {
			// setBytes copies the bytes into the command stream during the call.
			msg.setBytes(enc, sel.setBytes, unsafe.Pointer(&a.bytes[0]), uint(len(a.bytes)), uint(i))
		}
	}
	msg.dispatch(enc, sel.dispatchThreadgroups, groups, threads)
}

// encodeNaiveGemm encodes kernels.MetalSgemmNaive for C = A·B.
func (d *Device) encodeNaiveGemm(cb objc.ID, ops gemmOperands, m, n, k uint, _ *[]objc.ID) error {
	p, ok := d.pipes[kernels.MetalSgemmNaive]
	if !ok {
		return fmt.Errorf("metal: kernel %q was not compiled", kernels.MetalSgemmNaive)
	}
	groups, threads := grid2D(p, n, m)
	return d.encodeKernel(cb, kernels.MetalSgemmNaive, []kernelArg{
		bufferArg(ops.bufA, ops.offA),
		bufferArg(ops.bufB, ops.offB),
		bufferArg(ops.bufC, ops.offC),
		u32Arg(uint32(m), uint32(n), uint32(k)), // bounds checked by checkGemm
	}, groups, threads)
}
