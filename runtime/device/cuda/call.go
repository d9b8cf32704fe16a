package cuda

import (
	"unsafe"

	"github.com/ebitengine/purego"
)

// call invokes the C function at fn with integer and pointer arguments and
// returns its int32 result (CUresult, nvrtcResult, cublasStatus_t all are).
//
// Every binding goes through here rather than purego.RegisterFunc: a
// registered function converts its arguments through reflection on every
// call, while SyscallN only copies them into a pooled argument block, which
// keeps a kernel launch in the hundreds of nanoseconds. The directive makes a
// pointer converted to uintptr in the argument list stay valid for the call
// (unsafe.Pointer rule 4), as it does for SyscallN itself.
//
//go:uintptrescapes
func call(fn uintptr, args ...uintptr) int32 {
	r, _, _ := purego.SyscallN(fn, args...)
	return int32(r)
}

// callPtr is call for C functions that return a pointer (nvrtcGetErrorString).
//
//go:uintptrescapes
func callPtr(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}

// ptr turns an address that a C library returned into a pointer. Such memory
// is not Go's: the garbage collector neither moves nor frees it.
func ptr(addr uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&addr)) }

// goString copies the NUL-terminated C string at p, at most 4096 bytes.
func goString(p uintptr) string {
	if p == 0 {
		return ""
	}
	n := 0
	for n < 4096 && *(*byte)(ptr(p + uintptr(n))) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(ptr(p)), n))
}

// cString returns s as a NUL-terminated byte slice for C.
func cString(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}
