// sgemm_f32_tiled computes row-major C (M x N) = A (M x K) * B (K x N) in
// fp32 with 16x16 shared-memory tiles. It is the cross-check for cuBLAS and
// a kernel that reads its operands more than once (so zero-copy over PCIe
// pays per re-read). Any M, N, K: edge tiles are guarded.
// Launch: block (16, 16), grid (ceil(N/16), ceil(M/16)).
#define TILE 16

extern "C" __global__ void sgemm_f32_tiled(const float* A, const float* B, float* C, int M, int N, int K) {
  __shared__ float As[TILE][TILE];
  __shared__ float Bs[TILE][TILE + 1];
  int tx = threadIdx.x, ty = threadIdx.y;
  int row = blockIdx.y * TILE + ty, col = blockIdx.x * TILE + tx;
  float acc = 0.f;
  for (int t = 0; t < K; t += TILE) {
    As[ty][tx] = (row < M && t + tx < K) ? A[(long long)row * K + t + tx] : 0.f;
    Bs[ty][tx] = (t + ty < K && col < N) ? B[(long long)(t + ty) * N + col] : 0.f;
    __syncthreads();
#pragma unroll
    for (int i = 0; i < TILE; i++) acc += As[ty][i] * Bs[i][tx];
    __syncthreads();
  }
  if (row < M && col < N) C[(long long)row * N + col] = acc;
}
