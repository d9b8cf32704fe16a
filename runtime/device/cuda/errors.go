package cuda

import (
	"fmt"
)

// Error is a failed call into the CUDA driver, NVRTC or cuBLAS: which call,
// the numeric code it returned, and the library's name and description of
// that code. Use errors.As to inspect Code.
type Error struct {
	Lib  string // "cuda", "nvrtc" or "cublas"
	Call string // the C function, e.g. "cuMemAlloc_v2"
	Code int32  // CUresult, nvrtcResult or cublasStatus_t
	Name string // e.g. "CUDA_ERROR_OUT_OF_MEMORY"; empty if unknown
	Desc string // e.g. "out of memory"; empty if unknown
	Log  string // NVRTC compile log, when there is one
}

// Error formats as "call: NAME (code): description", with the NVRTC log on
// the following lines.
func (e *Error) Error() string {
	name := e.Name
	if name == "" {
		name = "unknown " + e.Lib + " error"
	}
	s := fmt.Sprintf("%s: %s (%d)", e.Call, name, e.Code)
	if e.Desc != "" && e.Desc != e.Name {
		s += ": " + e.Desc
	}
	if e.Log != "" {
		s += "\n" + e.Log
	}
	return s
}

// cudaErrorNamesFallback names the driver results most often seen, for when
// cuGetErrorName itself is unavailable (it never is once libcuda loaded; the
// table keeps errors readable in tests and if the library misbehaves).
var cudaErrorNamesFallback = map[int32]string{
	1:   "CUDA_ERROR_INVALID_VALUE",
	2:   "CUDA_ERROR_OUT_OF_MEMORY",
	3:   "CUDA_ERROR_NOT_INITIALIZED",
	4:   "CUDA_ERROR_DEINITIALIZED",
	35:  "CUDA_ERROR_INSUFFICIENT_DRIVER",
	100: "CUDA_ERROR_NO_DEVICE",
	101: "CUDA_ERROR_INVALID_DEVICE",
	201: "CUDA_ERROR_INVALID_CONTEXT",
	209: "CUDA_ERROR_NO_BINARY_FOR_GPU",
	218: "CUDA_ERROR_INVALID_PTX",
	400: "CUDA_ERROR_INVALID_HANDLE",
	500: "CUDA_ERROR_NOT_FOUND",
	700: "CUDA_ERROR_ILLEGAL_ADDRESS",
	701: "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
	712: "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED",
	713: "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED",
	801: "CUDA_ERROR_NOT_SUPPORTED",
	999: "CUDA_ERROR_UNKNOWN",
}

// cublasStatus names cublasStatus_t values (cublas_api.h); cuBLAS has
// cublasGetStatusName too, but a table works with every cuBLAS version.
var cublasStatus = map[int32][2]string{
	0:  {"CUBLAS_STATUS_SUCCESS", "success"},
	1:  {"CUBLAS_STATUS_NOT_INITIALIZED", "the library was not initialized"},
	3:  {"CUBLAS_STATUS_ALLOC_FAILED", "resource allocation failed"},
	7:  {"CUBLAS_STATUS_INVALID_VALUE", "an invalid value was passed"},
	8:  {"CUBLAS_STATUS_ARCH_MISMATCH", "the device does not support the operation"},
	11: {"CUBLAS_STATUS_MAPPING_ERROR", "access to GPU memory space failed"},
	13: {"CUBLAS_STATUS_EXECUTION_FAILED", "the GPU program failed to execute"},
	14: {"CUBLAS_STATUS_INTERNAL_ERROR", "an internal operation failed"},
	15: {"CUBLAS_STATUS_NOT_SUPPORTED", "the functionality requested is not supported"},
	16: {"CUBLAS_STATUS_LICENSE_ERROR", "license error"},
}

// nvrtcResultNames names nvrtcResult values (nvrtc.h), used when
// nvrtcGetErrorString is unavailable.
var nvrtcResultNames = map[int32]string{
	0:  "NVRTC_SUCCESS",
	1:  "NVRTC_ERROR_OUT_OF_MEMORY",
	2:  "NVRTC_ERROR_PROGRAM_CREATION_FAILURE",
	3:  "NVRTC_ERROR_INVALID_INPUT",
	4:  "NVRTC_ERROR_INVALID_PROGRAM",
	5:  "NVRTC_ERROR_INVALID_OPTION",
	6:  "NVRTC_ERROR_COMPILATION",
	7:  "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE",
	8:  "NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION",
	9:  "NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION",
	10: "NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID",
	11: "NVRTC_ERROR_INTERNAL_ERROR",
}

// cublasError builds the error for a failed cuBLAS call, or nil on success.
func cublasError(callName string, code int32) error {
	if code == 0 {
		return nil
	}
	e := &Error{Lib: "cublas", Call: callName, Code: code}
	if s, ok := cublasStatus[code]; ok {
		e.Name, e.Desc = s[0], s[1]
	}
	return e
}
