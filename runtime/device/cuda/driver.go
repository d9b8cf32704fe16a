package cuda

import "unsafe"

// driver holds the CUDA driver API entry points (libcuda), resolved once.
// Names follow cuda.h; the _v2 suffixes are the entry points cuda.h maps the
// plain names to.
type driver struct {
	path string

	cuInit, cuDriverGetVersion, cuGetErrorName, cuGetErrorString               uintptr
	cuDeviceGetCount, cuDeviceGet, cuDeviceGetName, cuDeviceGetAttribute       uintptr
	cuDeviceTotalMem, cuDeviceGetPCIBusId                                      uintptr
	cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease                        uintptr
	cuCtxSetCurrent, cuCtxSynchronize                                          uintptr
	cuMemGetInfo, cuMemAlloc, cuMemFree, cuMemAllocManaged, cuMemPrefetchAsync uintptr
	cuMemHostRegister, cuMemHostUnregister, cuMemHostGetDevicePointer          uintptr
	cuMemAllocHost, cuMemFreeHost                                              uintptr
	cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemsetD32Async                     uintptr
	cuMemcpyDtoDAsync                                                          uintptr // batched tenants' rows (llm_batch.go)
	cuStreamCreate, cuStreamDestroy, cuStreamSynchronize                       uintptr
	cuEventCreate, cuEventDestroy, cuEventRecord, cuEventElapsedTime           uintptr
	cuModuleLoadData, cuModuleUnload, cuModuleGetFunction, cuLaunchKernel      uintptr
	cuLaunchKernelEx                                                           uintptr // CUDA 12+; 0 if absent
	cuEventSynchronize                                                         uintptr

	// CUDA graphs (program_graph.go), all optional: without them a program
	// runs its ops one launch at a time.
	cuStreamBeginCapture, cuStreamEndCapture, cuGraphInstantiateWithFlags uintptr
	cuGraphLaunch, cuGraphExecDestroy, cuGraphDestroy                     uintptr
}

// CUDA driver constants used here (cuda.h).
const (
	cudaErrorNoDevice = 100
	cudaErrorNotFound = 500

	attrMultiprocessorCount            = 16
	attrClockRate                      = 13
	attrPCIBusID                       = 33
	attrPCIDeviceID                    = 34
	attrMemoryClockRate                = 36
	attrGlobalMemoryBusWidth           = 37
	attrL2CacheSize                    = 38
	attrUnifiedAddressing              = 41
	attrPCIDomainID                    = 50
	attrComputeCapabilityMajor         = 75
	attrComputeCapabilityMinor         = 76
	attrManagedMemory                  = 83
	attrPageableMemoryAccess           = 88
	attrConcurrentManagedAccess        = 89
	attrCanUseHostPointerForRegistered = 91
	attrHostRegisterSupported          = 99

	memHostRegisterPortable  = 0x01
	memHostRegisterDeviceMap = 0x02
	memAttachGlobal          = 0x1
	streamNonBlocking        = 0x1
	eventDefault             = 0x0
	eventDisableTiming       = 0x2
	memLocationTypeDevice    = 1
)

// load resolves the driver's symbols from the library at handle.
func (d *driver) load(handle uintptr) error {
	return resolve(handle, d.path, []sym{
		{p: &d.cuInit, names: []string{"cuInit"}},
		{p: &d.cuDriverGetVersion, names: []string{"cuDriverGetVersion"}},
		{p: &d.cuGetErrorName, names: []string{"cuGetErrorName"}},
		{p: &d.cuGetErrorString, names: []string{"cuGetErrorString"}},
		{p: &d.cuDeviceGetCount, names: []string{"cuDeviceGetCount"}},
		{p: &d.cuDeviceGet, names: []string{"cuDeviceGet"}},
		{p: &d.cuDeviceGetName, names: []string{"cuDeviceGetName"}},
		{p: &d.cuDeviceGetAttribute, names: []string{"cuDeviceGetAttribute"}},
		{p: &d.cuDeviceTotalMem, names: []string{"cuDeviceTotalMem_v2"}},
		{p: &d.cuDeviceGetPCIBusId, names: []string{"cuDeviceGetPCIBusId"}},
		{p: &d.cuDevicePrimaryCtxRetain, names: []string{"cuDevicePrimaryCtxRetain"}},
		{p: &d.cuDevicePrimaryCtxRelease, names: []string{"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}},
		{p: &d.cuCtxSetCurrent, names: []string{"cuCtxSetCurrent"}},
		{p: &d.cuCtxSynchronize, names: []string{"cuCtxSynchronize"}},
		{p: &d.cuMemGetInfo, names: []string{"cuMemGetInfo_v2"}},
		{p: &d.cuMemAlloc, names: []string{"cuMemAlloc_v2"}},
		{p: &d.cuMemFree, names: []string{"cuMemFree_v2"}},
		{p: &d.cuMemAllocManaged, names: []string{"cuMemAllocManaged"}},
		// CUDA 12.2+ form taking a CUmemLocation; the only one in CUDA 13 headers.
		{p: &d.cuMemPrefetchAsync, names: []string{"cuMemPrefetchAsync_v2"}, optional: true},
		{p: &d.cuMemHostRegister, names: []string{"cuMemHostRegister_v2"}},
		{p: &d.cuMemHostUnregister, names: []string{"cuMemHostUnregister"}},
		{p: &d.cuMemHostGetDevicePointer, names: []string{"cuMemHostGetDevicePointer_v2"}},
		{p: &d.cuMemAllocHost, names: []string{"cuMemAllocHost_v2"}},
		{p: &d.cuMemFreeHost, names: []string{"cuMemFreeHost"}},
		{p: &d.cuMemcpyHtoDAsync, names: []string{"cuMemcpyHtoDAsync_v2"}},
		{p: &d.cuMemcpyDtoHAsync, names: []string{"cuMemcpyDtoHAsync_v2"}},
		{p: &d.cuMemcpyDtoDAsync, names: []string{"cuMemcpyDtoDAsync_v2"}, optional: true},
		{p: &d.cuMemsetD32Async, names: []string{"cuMemsetD32Async"}},
		{p: &d.cuStreamCreate, names: []string{"cuStreamCreate"}},
		{p: &d.cuStreamDestroy, names: []string{"cuStreamDestroy_v2"}},
		{p: &d.cuStreamSynchronize, names: []string{"cuStreamSynchronize"}},
		{p: &d.cuEventCreate, names: []string{"cuEventCreate"}},
		{p: &d.cuEventDestroy, names: []string{"cuEventDestroy_v2"}},
		{p: &d.cuEventRecord, names: []string{"cuEventRecord"}},
		{p: &d.cuEventElapsedTime, names: []string{"cuEventElapsedTime_v2", "cuEventElapsedTime"}},
		{p: &d.cuModuleLoadData, names: []string{"cuModuleLoadData"}},
		{p: &d.cuModuleUnload, names: []string{"cuModuleUnload"}},
		{p: &d.cuModuleGetFunction, names: []string{"cuModuleGetFunction"}},
		{p: &d.cuLaunchKernel, names: []string{"cuLaunchKernel"}},
		{p: &d.cuLaunchKernelEx, names: []string{"cuLaunchKernelEx"}, optional: true},
		{p: &d.cuEventSynchronize, names: []string{"cuEventSynchronize"}},
		// The prototypes relied on (cuda.h, CUDA 12 and 13; the _v2 name is
		// what cuda.h maps cuStreamBeginCapture to since CUDA 10.1):
		//   CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode);
		//   CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph);
		//   CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph, unsigned long long flags); // CUDA 11.4
		//   CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream);
		//   CUresult cuGraphExecDestroy(CUgraphExec hGraphExec);
		//   CUresult cuGraphDestroy(CUgraph hGraph);
		{p: &d.cuStreamBeginCapture, names: []string{"cuStreamBeginCapture_v2"}, optional: true},
		{p: &d.cuStreamEndCapture, names: []string{"cuStreamEndCapture"}, optional: true},
		{p: &d.cuGraphInstantiateWithFlags, names: []string{"cuGraphInstantiateWithFlags"}, optional: true},
		{p: &d.cuGraphLaunch, names: []string{"cuGraphLaunch"}, optional: true},
		{p: &d.cuGraphExecDestroy, names: []string{"cuGraphExecDestroy"}, optional: true},
		{p: &d.cuGraphDestroy, names: []string{"cuGraphDestroy"}, optional: true},
	})
}

// check turns a CUresult into an error naming the call, or nil on success.
func (d *driver) check(callName string, r int32) error {
	if r == 0 {
		return nil
	}
	e := &Error{Lib: "cuda", Call: callName, Code: r}
	if d != nil && d.cuGetErrorName != 0 {
		var p uintptr
		if call(d.cuGetErrorName, uintptr(r), uintptr(unsafe.Pointer(&p))) == 0 {
			e.Name = goString(p)
		}
		var q uintptr
		if call(d.cuGetErrorString, uintptr(r), uintptr(unsafe.Pointer(&q))) == 0 {
			e.Desc = goString(q)
		}
	}
	if e.Name == "" {
		e.Name = cudaErrorNamesFallback[r]
	}
	return e
}

// hasGraphs reports whether the driver has every entry point a CUDA graph
// needs (CUDA 11.4 and later).
func (d *driver) hasGraphs() bool {
	return d.cuStreamBeginCapture != 0 && d.cuStreamEndCapture != 0 && d.cuGraphInstantiateWithFlags != 0 &&
		d.cuGraphLaunch != 0 && d.cuGraphExecDestroy != 0 && d.cuGraphDestroy != 0
}
