// Package metal is the device backend for Apple Silicon GPUs: Metal and
// Metal Performance Shaders driven from Go through purego's objc package, with
// CGO_ENABLED=0. It exists only on darwin; on other systems Open returns an
// error wrapping device.ErrNoDevice.
//
// STATUS: this backend has NOT yet run on hardware. It was written on Linux
// and is proven only to cross-build, vet and pass staticcheck for
// darwin/arm64; the Llama kernels' MSL (kernels/llm.metal) has never been
// through Apple's compiler, only through g++ with a declaration shim
// (TestLLMMetalSyntax). A Mac owner runs
//
//	CGO_ENABLED=0 go test ./runtime/device/metal/ -v
//	go run ./harness -exp llama -backend metal -quick
//
// and should read "What to check first on a Mac" below before trusting a number.
//
// What exists: device.Device and device.Memory (MatMul through MPS and a
// naive MSL sgemm), and device.LLMDevice / device.LLMOps, the Llama kernels
// runtime/llm drives natively and from inside the Wasm guest.
//
// # Memory modes
//
// zerocopy (the default): the guest's linear memory is an mmap reservation
// (internal/region: page-aligned base, length a multiple of the page size,
// 16 KiB on Apple Silicon). The bytes in use are wrapped, in place, by
// newBufferWithBytesNoCopy:length:options:deallocator: with
// MTLResourceStorageModeShared and a nil deallocator, and kernels receive that
// buffer plus the guest's byte offsets. The buffer's contents pointer is
// checked to equal the reservation's base when the buffer is made, and every
// KernelReport.Addrs entry is contents+offset, so an experiment can see that
// the GPU read and wrote the guest's own bytes.
//
// Growth: the no-copy buffer covers the first Size() bytes rounded up to the
// page size, and Grow replaces it with a larger one over the same base when
// the guest grows past it (the base never moves, so offsets stay valid). The
// alternative, one buffer over the whole reservation made once, was rejected:
// a Wasm reservation is often far larger than what the guest uses (up to
// 4 GiB), it may exceed the device's maxBufferLength, and whether Metal wires
// or maps every page of a no-copy buffer when the buffer is made or made
// resident is not documented; a buffer over the bytes in use bounds that cost
// to memory the guest has touched anyway.
//
// copy: the linear memory is the same kind of reservation, but MatMul copies
// the A and B spans into separate shared MTLBuffers (kept and grown between
// calls, counted in Stats.StagingBytes), runs there, and copies C back;
// Stats.CopiedBytes counts every byte moved. This is the control: what a
// sandbox without shared memory must do.
//
// # Llama ops (device.LLMOps)
//
// Weights: LoadWeights copies each tensor into its own MTLBuffer
// (newBufferWithBytes:length:options:, storage mode shared), tied tensors
// once; on unified memory that is a memcpy, and it costs the weights' size
// again (2.47 GB for Llama 3.2 1B bf16; Weights.DeviceBytes). No-copy
// buffers were not used: they need page-aligned, page-multiple bytes, which
// safetensors tensors almost never are (llm_darwin.go says more). bf16 is
// read as ushort and widened by a shift, so MSL 3.1's bfloat (macOS 14) is
// not needed; f16 is read as ushort and converted bit-exactly.
//
// Kernels (kernels/llm.metal, names as kernels/llm.cu): embed, rmsnorm (a
// threadgroup per row, simd_sum reduction), gemv for decode (a SIMD group per
// output row, 4-element packed weight loads), a 16×16-tiled gemm for
// prefill (no MPS: it would need the compute encoder ended for each GEMM),
// rope, kvstore, attention (a threadgroup per query head and token, its 8
// SIMD groups splitting the context, online softmax, merged in threadgroup
// memory), swiglu, add, argmax (first index on ties). They are compiled, with
// fast math off, into a library of their own on the first LoadWeights, so a
// fault in them cannot stop Open.
//
// zerocopy: ops are encoded, in call order, into one command buffer with one
// serial compute encoder kept open until Sync (dispatches of a serial
// encoder run in order, each seeing its predecessors' writes), with the
// no-copy buffer at the guest's byte offsets (4-byte aligned, checked). Sync
// commits, waits, and returns the batch's error. Grow, MatMul and Close
// drain queued work first. copy: each op stages its spans into a kept shared
// buffer, runs in its own command buffer, waits and copies outputs back, so
// copy mode pays a GPU round trip per op as well as the copies (an op's
// inputs are often the previous op's outputs, which exist only after it ran).
//
// # Threads and object lifetimes
//
// All Metal and Objective-C work runs on one goroutine locked to an OS thread
// for the Device's lifetime; every request runs inside its own autorelease
// pool (objc_autoreleasePoolPush/Pop), so each command buffer and the
// autoreleased objects made for it are drained when the request returns.
// Objects from alloc/new/copy/Create are owned and released exactly once;
// autoreleased objects are never kept past their request.
//
// # Kernels
//
// GEMM goes to MPSMatrixMultiplication. The Metal Shading Language sources in
// package kernels are compiled at run time with an explicit
// MTLCompileOptions.languageVersion (3.0 on macOS 13 and later, 2.4 on
// macOS 12; without it a cgo-free binary gets MSL 2.4 semantics), and one
// compute pipeline is built per kernel. Memory.MatMulNaive runs the naive MSL
// sgemm through the same dispatch path future kernels will use.
//
// # What to check first on a Mac
//
//   - TestZeroCopyAddrs: the no-copy buffer's contents pointer must equal the
//     mmap base; if Metal ever copied, Grow fails loudly instead.
//   - TestMatMul in both modes and MatMulNaive against the float64 reference
//     (tolerance 1e-5 relative to max|R|). In zerocopy mode A, B and C are
//     three MPSMatrix views of one MTLBuffer at different offsets; Apple's
//     documentation states no rule against that for disjoint ranges, and
//     this test is where a hidden one would show.
//   - That purego passes MTLSize (24 bytes, by reference under the arm64 ABI)
//     and the two doubles of MPSMatrixMultiplication's initializer correctly:
//     a wrong ABI shows up as a wrong or all-zero C, not as a crash.
//   - Memory.Close releases the no-copy buffer and then unmaps the region.
//     Apple requires the memory to stay valid for the buffer's lifetime; the
//     buffer's last reference should be ours because every command buffer
//     has completed and its autorelease pool has drained, but if Metal
//     released a buffer asynchronously after that, a munmap could precede its
//     deallocation. Run the cycle test with MTL_DEBUG_LAYER=1 to see.
//   - kernels/llm.metal compiles (Open succeeds without it; LoadWeights
//     fails with the compiler's message). Then TestConformance, the suite
//     every backend runs (runtime/device/internal/conformance): every op
//     against float64, its "kvstore rows" check the odd-width rows
//     bindOffset handles, hostile calls, and the Tiny engine against the
//     committed Hugging Face fixture. A wrong setBytes struct layout or
//     buffer index shows as garbage, not a crash.
//   - That one serial encoder really orders dependent dispatches: the
//     "queued chain" check of TestConformance/ops and its tiny check depend
//     on it.
//     If they fail only in zerocopy mode, add memoryBarrierWithScope: between
//     ops or an encoder per op (llm_exec_darwin.go).
//   - GPU core count is not reported: it lives in the IORegistry
//     (AGXAccelerator "gpu-core-count"), which needs IOKit calls not wrapped here.
package metal
