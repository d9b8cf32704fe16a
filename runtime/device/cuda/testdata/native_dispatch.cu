// native_dispatch.cu: the same dispatch measurements as BenchmarkDispatch,
// from C++ on the CUDA driver API and cuBLAS, to price what purego and Go
// add. Build on a GPU machine:
//   nvcc -O2 -arch=sm_90 -o native_dispatch native_dispatch.cu -lcuda -lcublas
#include <chrono>
#include <cstdio>
#include <cuda.h>
#include <cuda_runtime.h>
#include <cublas_v2.h>

extern "C" __global__ void nop() {}

#define CK(x) do { auto r = (x); if (r) { printf("%s failed: %d\n", #x, (int)r); return 1; } } while (0)

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int main() {
  CK(cudaFree(0));
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  CUfunction f;
  CK(cudaGetFuncBySymbol(&f, (const void*)nop));
  const int N = 20000;
  for (int i = 0; i < 1000; i++) CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, nullptr, nullptr));
  CK(cuStreamSynchronize(s));
  double t = now();
  for (int i = 0; i < N; i++) {
    CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, nullptr, nullptr));
    CK(cuStreamSynchronize(s));
  }
  printf("native launch+sync   %8.0f ns/op\n", (now() - t) / N * 1e9);
  double acc = 0;
  for (int i = 0; i < N; i++) {
    double t0 = now();
    CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, nullptr, nullptr));
    acc += now() - t0;
    if (i % 256 == 255) CK(cuStreamSynchronize(s));
  }
  CK(cuStreamSynchronize(s));
  printf("native launch        %8.0f ns/op\n", acc / N * 1e9);
  CUcontext c;
  CK(cuCtxGetCurrent(&c));
  t = now();
  for (int i = 0; i < N; i++) CK(cuCtxSetCurrent(c));
  printf("native ctxSetCurrent %8.0f ns/op\n", (now() - t) / N * 1e9);

  cublasHandle_t h;
  CK(cublasCreate(&h));
  CK(cublasSetStream(h, s));
  float *d;
  CK(cudaMalloc(&d, 3 * 16 * 16 * 4));
  CK(cudaMemset(d, 0, 3 * 16 * 16 * 4));
  CUevent e0, e1;
  CK(cuEventCreate(&e0, 0));
  CK(cuEventCreate(&e1, 0));
  float one = 1, zero = 0, ms;
  for (int i = 0; i < 2 * N + 100; i++) {
    if (i == 100) t = now();
    if (i == N + 100) { printf("native matmul16 (events+sgemm+sync) %8.0f ns/op\n", (now() - t) / N * 1e9); t = now(); }
    bool ev = i < N + 100;
    if (ev) CK(cuEventRecord(e0, s));
    CK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 16, 16, 16, &one, d + 256, 16, d, 16, &zero, d + 512, 16));
    if (ev) CK(cuEventRecord(e1, s));
    CK(cuStreamSynchronize(s));
    if (ev) CK(cuEventElapsedTime(&ms, e0, e1));
  }
  printf("native sgemm16+sync  %8.0f ns/op\n", (now() - t) / N * 1e9);
  return 0;
}
