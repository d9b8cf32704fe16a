// Package cuda is a device.Device backed by an NVIDIA GPU through the CUDA
// driver API, NVRTC and cuBLAS, loaded at run time with purego: no cgo, no
// CUDA toolkit at build time (CGO_ENABLED=0 go build works anywhere, and
// the binary runs wherever libcuda is installed).
//
// # Libraries
//
// Open dlopens libcuda.so.1, libnvrtc.so and libcublas.so from a list of
// known paths (distribution, /usr/local/nvidia, the CUDA toolkit, PyTorch's
// wheels), each overridable with WASMGPU_LIBCUDA, WASMGPU_LIBNVRTC and
// WASMGPU_LIBCUBLAS. A missing library, a driver that fails to initialize
// or no GPU gives an error wrapping device.ErrNoDevice naming what was
// missing; on darwin Open always fails that way. Every failed CUDA, NVRTC
// or cuBLAS call becomes an *Error naming the call, its numeric code and the
// library's name and description of it.
//
// # Threading
//
// A CUDA context is current per OS thread. Every method that calls CUDA
// locks its goroutine to its OS thread (runtime.LockOSThread), makes the
// device's primary context current there (cuCtxSetCurrent, a thread-local
// store in the driver), makes its calls and unlocks. The alternative, one
// goroutine locked to a thread serving all calls over a channel, costs a
// goroutine hand-off each way and, once that thread sleeps, a futex wake
// measured in microseconds: too much for a guest that wants a host call
// under 5 µs and a Llama token of ~200 launches. The cost here is the lock
// (3 ns) and one cuCtxSetCurrent (160 ns through purego, 25 ns from C: most
// of it is purego's cgo-less call into C, about 130 ns per call). Measured
// on an H200 host against the same calls from C++ (testdata/
// native_dispatch.cu): an empty-kernel launch plus stream sync takes 8.5 µs
// here and 8.2 µs natively, a launch alone 3.9 µs and 3.1 µs. The floor of a
// synchronous host call is the driver's round trip, not this package.
// Calls go through purego.SyscallN, not purego.RegisterFunc, which would add
// reflection to every call. Kernel arguments are packed into a block owned
// by the Memory without allocating; SyscallN itself allocates its argument
// slice once per C call (it escapes), a few tens of bytes.
//
// The driver is thread-safe; the package adds one mutex, around the
// device's single cuBLAS handle (and kernel loading). Each Memory has its
// own non-blocking stream and timing events, so Memories used from
// different goroutines run independently; one Memory is for one goroutine
// at a time, as device.Memory says.
//
// The primary context keeps its default scheduling (CU_CTX_SCHED_AUTO): with
// fewer CUDA threads than cores the driver spins while waiting, which is the
// lowest-latency choice for synchronous calls.
//
// # Memory modes
//
// Modes returns copy, mapped, managed and resident, in that order.
//
//   - copy: the linear memory is an mmap reservation (region.Reserve).
//     MatMul copies the operand bytes to device buffers owned by the Memory
//     (allocated on first use, grown in 2 MiB steps to the largest operand,
//     counted in Stats.DeviceBytes and StagingBytes) and the result back,
//     straight from and to the pageable linear memory: no pinned staging of
//     ours, since that would add a host-side copy and pinned RSS to what the
//     control is meant to price. Options.PinnedCopy instead registers (pins,
//     without mapping) the linear memory as it grows, so the same copies run
//     as DMA at pinned speed: the best a copying sandbox can do.
//   - mapped: the reservation is registered with the GPU piece by piece:
//     each Grow registers the newly used pages (cuMemHostRegister with
//     PORTABLE|DEVICEMAP). Registering the whole reservation up front would
//     pin, and so make resident, every page of a 4 GiB reservation; this way
//     only what the guest has grown into is pinned (Stats.PinnedBytes). With
//     unified addressing the device pointer of a registration equals its host
//     pointer (checked with cuMemHostGetDevicePointer; otherwise translated),
//     so adjacent registrations form one device range and a kernel may read
//     across them. Close unregisters each piece.
//   - managed: the linear memory is cuMemAllocManaged(max, ATTACH_GLOBAL)
//     memory seen as a []byte; the Wasm runtime uses it as is and the driver
//     migrates pages on touch. NewMemory refuses a size that would leave less
//     than 256 MiB of the card free (cuMemGetInfo first): asking for more
//     managed memory than is free can hang the GPU. Fresh pages read as zero,
//     as Wasm requires (the driver zero-fills on first touch; the tests check
//     it). Options.PrefetchManaged adds cuMemPrefetchAsync of the operands
//     before each GEMM; off by default.
//   - resident: a reservation plus a device mirror of the same size; MatMul
//     runs on the mirror only and data moves on ResidentMemory.Upload and
//     Download. It is the ceiling the other modes are measured against.
//
// # Kernels
//
// MatMul is cublasSgemm (TF32 off unless Options.TF32). Other kernels are
// CUDA C in kernels/*.cu, compiled by NVRTC for the device's compute
// capability on first use of Device.Kernel, one module per file, with the
// PTX cached under os.UserCacheDir()/wasmgpu/ptx (WASMGPU_PTX_CACHE moves
// it, "off" disables it) keyed by the SHA-256 of source, options, compute
// capability and NVRTC version. Adding a kernel is an extern "C" function in
// a .cu file, then
//
//	k, err := dev.Kernel("rmsnorm_f32")
//	err = mem.Launch(k, Dim3{X: blocks}, Dim3{X: 256}, 0, x, w, out, int32(n), float32(eps))
//
// with device addresses from Memory.Addr. kernels/*.cuh files are headers
// every source may include. TestKernelsCompile and TestKernelsResources
// compile every kernel with NVRTC alone, no GPU needed (WASMGPU_LIBNVRTC).
//
// # Programs
//
// Memory.NewProgram takes a token step — the op calls of one forward pass,
// validated once, with Patches saying which words follow run parameters
// such as the position — and Program.Run runs it: as a CUDA graph recorded
// on its first run (one cuGraphLaunch per token; the position and token ids
// reach the kernels through a small parameter block), or op by op in copy
// mode or where recording fails. program.go says how.
package cuda
