#!/usr/bin/env bash
# gpu-session.sh: everything a GPU session has to run, in stages that each
# fit one call of the device tool (10 minutes, 8 files back, 16 MiB each).
#
# Here, where Go is (cross-builds the binaries the GPU box runs: it has no Go):
#
#   scripts/gpu-session.sh build        # → bin/gpu.tgz (harness, refcheck, test binaries), ~25 MB
#
# bin/ is not ignored by git, so the device tool sends it with the working
# tree (64 MiB in all); do not commit it. Then, on the GPU box, one device
# call per stage, in this order of priority (about 25 minutes in all):
#
#   scripts/gpu-session.sh check        # ~4 min: GPU and libraries; every kernel compiled by the
#                                       #   box's NVRTC (ptxas report); the cuda tests: the
#                                       #   conformance suite in every mode, programs (CUDA graphs)
#                                       #   against per-op runs, cross-backend restore
#   scripts/gpu-session.sh bench        # ~4 min: Llama 3.2 1B: decode per op vs program at 24/512/
#                                       #   4096, GEMV bandwidth by shape and launch shape, decode
#                                       #   attention by context, prefill by chunk and precision
#   scripts/gpu-session.sh refcheck     # ~5 min: logits against Hugging Face transformers at 1040
#                                       #   tokens (a 1024-token prefill, then 16 decode steps),
#                                       #   native and in the guest, f32 and bf16 caches, both
#                                       #   prefill precisions
#   scripts/gpu-session.sh llama        # ./run.sh llama -backend cuda
#   scripts/gpu-session.sh kv           # ./run.sh kv -backend cuda
#   scripts/gpu-session.sh tenants      # ./run.sh tenants -backend cuda (issue 16: N = 1…64 tenants sharing one model)
#
# If a check fails, the new pieces can each be turned off without a rebuild
# (prefix the stage with the variable): WASMGPU_CUDA_ATTN_PREFILL=0,
# WASMGPU_CUDA_ATTN_DECODE=0, WASMGPU_CUDA_GRAPHS=0, WASMGPU_CUDA_PDL=0,
# WASMGPU_CUDA_PREFILL_GEMM=bf16x2 (RATIONALE.md, cuda).
#
# Each stage writes its logs and a STAGE.tgz of its outputs under $OUT (the
# device tool's output folder; ./gpu-out elsewhere) and prints a summary
# last, which is what the tool's reply shows. Unpack the tarballs here and
# commit the result files they hold (results/, plots/, the refcheck reports)
# with what they say, as REPRODUCE.md's GPU section describes.
set -uo pipefail
cd "$(dirname "$0")/.."
stage="${1:-}"
OUT="${OUT:-$PWD/gpu-out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 WASMGPU_NO_PROGRESS=1

say() { printf '\n== %s (%ds)\n' "$*" "$SECONDS"; }

# unpack puts the cross-built binaries in bin/ (once per machine).
unpack() {
  if [ ! -f bin/gpu.tgz ]; then
    echo "gpu-session: bin/gpu.tgz is missing: run 'scripts/gpu-session.sh build' where Go is, and send bin/ along" >&2
    exit 2
  fi
  if [ ! -x bin/cudatest ] || [ bin/gpu.tgz -nt bin/cudatest ]; then
    tar xzf bin/gpu.tgz -C bin
  fi
}

# summary prints a test log's verdicts and the lines worth reading first.
summary() {
  grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|PASS|FAIL|ok|panic)|(µs|ms|GB/s|tokens/s|relative|splits|graph|floor|registers)' "$1" |
    grep -vE '^=== RUN' | tail -n "${2:-60}"
}

case "$stage" in
build)
  command -v go >/dev/null || { echo "gpu-session build: needs Go" >&2; exit 2; }
  set -e
  rm -rf bin/gpu && mkdir -p bin/gpu
  export CGO_ENABLED=0 GOOS=linux GOARCH=amd64
  # -buildvcs=true: the binaries carry the commit they were built from
  # (results' provenance), even where GOFLAGS says -buildvcs=false, as on
  # this workplace's build machine; the GPU machine gets no .git to ask.
  flags=(-trimpath -buildvcs=true -ldflags=-s\ -w)
  go build "${flags[@]}" -o bin/gpu/harness ./harness
  go build "${flags[@]}" -o bin/gpu/refcheck ./cmd/refcheck
  go test -c "${flags[@]}" -o bin/gpu/cudatest ./runtime/device/cuda
  go test -c "${flags[@]}" -o bin/gpu/kvtest ./experiments/kv
  git rev-parse HEAD >bin/gpu/COMMIT
  tar czf bin/gpu.tgz -C bin/gpu .
  rm -rf bin/gpu
  ls -l bin/gpu.tgz
  echo "built at $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)'); send bin/ with the working tree"
  ;;

check)
  unpack
  say "GPU and libraries"
  {
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,power.draw --format=csv
    ls -l /usr/local/cuda/lib64/libnvrtc.so* /usr/local/cuda/lib64/libcublas.so* 2>&1
    echo "binaries built at $(cat bin/COMMIT)"
  } 2>&1 | tee "$OUT/check-gpu.txt"
  say "cuda tests (kernels compiled by this NVRTC, conformance in every mode, programs)"
  (cd runtime/device/cuda && ../../../bin/cudatest -test.v -test.timeout 8m) >"$OUT/check-cuda.log" 2>&1
  cuda=$?
  say "cross-backend restore (experiments/kv)"
  (cd experiments/kv && ../../bin/kvtest -test.v -test.run 'AcrossBackends' -test.timeout 3m) >"$OUT/check-kv.log" 2>&1
  kv=$?
  tar czf "$OUT/check.tgz" -C "$OUT" check-gpu.txt check-cuda.log check-kv.log
  say "summary"
  summary "$OUT/check-cuda.log" 80
  summary "$OUT/check-kv.log" 10
  echo "cuda tests exit $cuda, kv tests exit $kv"
  [ "$cuda" = 0 ] && [ "$kv" = 0 ]
  ;;

bench)
  unpack
  say "Llama 3.2 1B measurements"
  (cd runtime/device/cuda && WASMGPU_LLM_BENCH=1 WASMGPU_LLM_BENCH_SHORT=ops WASMGPU_LLM_BENCH_VARIANTS=hostio,nopdl \
    ../../../bin/cudatest -test.v -test.timeout 9m \
    -test.run '^(TestDecodeProgram1B|TestAttentionDecode1B|TestGEMVBandwidth1B|TestPrefill1B|TestLLMDecodeLlama1B)$') >"$OUT/bench.log" 2>&1
  rc=$?
  tar czf "$OUT/bench.tgz" -C "$OUT" bench.log
  say "summary"
  summary "$OUT/bench.log" 150
  exit $rc
  ;;

refcheck)
  unpack
  m=/tmp/wasmgpu-m1b
  say "synthetic Llama 3.2 1B and 1040 prompt tokens"
  bin/refcheck write -config 1b -seed 1 -n 1040 -dir "$m" || exit 1
  say "Hugging Face transformers, float64 (CPU)"
  python3 models/reference/hf_logits.py "$m" "$m/tokens.json" "$m/hf_logits.safetensors" 2>&1 | tee "$OUT/refcheck-hf.log" || exit 1
  rc=0
  for p in bf16 bf16x2; do
    say "ours on cuda, managed, prefill activations $p"
    WASMGPU_CUDA_PREFILL_GEMM=$p bin/refcheck compare -dir "$m" -ref "$m/hf_logits.safetensors" -prefill 1024 -wasm \
      -backend cuda -mode managed -out "$OUT/refcheck-llama32-1b-synthetic-1040-managed-$p.json" 2>&1 | tee "$OUT/refcheck-$p.log" || rc=1
  done
  say "summary"
  cat "$OUT"/refcheck-bf16.log "$OUT"/refcheck-bf16x2.log
  exit $rc
  ;;

llama | kv | tenants)
  unpack
  if [ ! -f "experiments/$stage.yaml" ]; then
    echo "gpu-session: experiments/$stage.yaml does not exist in this tree" >&2
    exit 2
  fi
  say "./run.sh $stage -backend cuda"
  rm -rf "$OUT/$stage"
  ./run.sh "$stage" -backend cuda -no-progress -out "$OUT/$stage" >"$OUT/$stage.log" 2>&1
  rc=$?
  tar czf "$OUT/$stage.tgz" -C "$OUT" "$stage" "$stage.log" && rm -rf "$OUT/$stage"
  say "summary"
  tail -n 60 "$OUT/$stage.log"
  exit $rc
  ;;

*)
  sed -n '2,37p' "$0" >&2
  exit 2
  ;;
esac
