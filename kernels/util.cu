// Utility kernels for the cuda backend: an empty kernel to price a launch,
// and fill/read-sum kernels to measure bandwidth.

// nop does nothing: launching it and waiting measures the dispatch round trip.
extern "C" __global__ void nop() {}

// fill_u32 writes v to n 32-bit words at p (grid-stride loop).
extern "C" __global__ void fill_u32(unsigned int* p, unsigned long long n, unsigned int v) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
       i += (unsigned long long)gridDim.x * blockDim.x) {
    p[i] = v;
  }
}

// readsum_f32 reads n4 float4s at p with 16-byte loads, so its time is the
// read bandwidth of wherever p lives (device memory, or host memory over the
// bus). It writes out[0] only if the sum hits an unlikely value, which keeps
// the loads from being optimized away without a reduction.
extern "C" __global__ void readsum_f32(const float4* p, unsigned long long n4, float* out) {
  float s = 0.f;
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n4;
       i += (unsigned long long)gridDim.x * blockDim.x) {
    float4 v = p[i];
    s += v.x + v.y + v.z + v.w;
  }
  if (s == 12345.678f) out[0] = s;
}
