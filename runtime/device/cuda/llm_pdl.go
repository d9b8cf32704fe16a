package cuda

import (
	"os"
	"unsafe"
)

// Programmatic dependent launch (PDL). A decode step is ~100 kernels in a
// row, most of them a GEMV whose run is a few microseconds, so the time a
// kernel takes to drain and the next to launch and ramp up is a large part
// of a token (RATIONALE.md). On compute capability 9.0 and later the LLM
// kernels are launched with CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_
// SERIALIZATION: the next kernel may start while the previous one finishes.
// Each kernel in kernels/llm.cu then waits (griddepcontrol.wait) for its
// predecessor to complete, with its memory visible, before it reads or
// writes any activation, so results are those of plain stream order; what
// runs early is the launch itself. WASMGPU_CUDA_PDL=0 turns it off.

// launchAttr is CUlaunchAttribute (cuda.h): an id, padding to 8 bytes, and
// a 64-byte value union.
type launchAttr struct {
	id  uint32
	_   uint32
	val [64]byte
}

// launchConfig is CUlaunchConfig (cuda.h).
type launchConfig struct {
	gridX, gridY, gridZ    uint32
	blockX, blockY, blockZ uint32
	sharedMem              uint32
	_                      uint32
	stream                 uintptr
	attrs                  *launchAttr
	numAttrs               uint32
	_                      uint32
}

// launchAttrProgrammaticStreamSerialization is CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION.
const launchAttrProgrammaticStreamSerialization = 6

// pdlEnabled reports whether WASMGPU_CUDA_PDL leaves PDL on (anything but "0").
func pdlEnabled() bool { return os.Getenv("WASMGPU_CUDA_PDL") != "0" }

// setupPDL turns PDL on for this Memory's LLM launches where the driver has
// cuLaunchKernelEx and the device is compute capability 9.0 or later.
func (m *Memory) setupPDL() {
	l := &m.llm
	l.pdl = pdlEnabled() && m.d.drv.cuLaunchKernelEx != 0 && m.d.attr(attrComputeCapabilityMajor) >= 9
	if !l.pdl {
		return
	}
	l.pdlAttr = launchAttr{id: launchAttrProgrammaticStreamSerialization}
	*(*int32)(unsafe.Pointer(&l.pdlAttr.val[0])) = 1 // programmaticStreamSerializationAllowed
	l.launchCfg = launchConfig{attrs: &l.pdlAttr, numAttrs: 1}
}
