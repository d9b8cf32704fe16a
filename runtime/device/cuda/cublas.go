package cuda

// cublas holds the cuBLAS entry points (libcublas) the backend uses.
type cublas struct {
	path string

	cublasCreate, cublasDestroy, cublasSetStream, cublasSetMathMode, cublasSgemm uintptr
	cublasGetVersion                                                             uintptr
	cublasGemmEx                                                                 uintptr // optional: LLM prefill (llm_linear.go)
}

// cuBLAS constants (cublas_api.h).
const (
	cublasOpN = 0
	// CUBLAS_DEFAULT_MATH: "compute and intermediate storage precisions with
	// at least the same number of mantissa and exponent bits as requested":
	// an fp32 GEMM stays fp32, no TF32.
	cublasDefaultMath = 0
	// CUBLAS_TF32_TENSOR_OP_MATH: fp32 GEMMs may round inputs to TF32 and
	// use tensor cores (10-bit mantissa, about 1e-3 relative error).
	cublasTF32TensorOpMath = 3
)

// load resolves cuBLAS's symbols.
func (b *cublas) load(handle uintptr) error {
	return resolve(handle, b.path, []sym{
		{p: &b.cublasCreate, names: []string{"cublasCreate_v2"}},
		{p: &b.cublasDestroy, names: []string{"cublasDestroy_v2"}},
		{p: &b.cublasSetStream, names: []string{"cublasSetStream_v2"}},
		{p: &b.cublasSetMathMode, names: []string{"cublasSetMathMode"}},
		{p: &b.cublasSgemm, names: []string{"cublasSgemm_v2"}},
		{p: &b.cublasGetVersion, names: []string{"cublasGetVersion_v2"}, optional: true},
		{p: &b.cublasGemmEx, names: []string{"cublasGemmEx"}, optional: true},
	})
}
