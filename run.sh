#!/usr/bin/env bash
# Reproduce wasmgpu's published numbers.
#
#   ./run.sh all            every spec in experiments/ on the auto-detected backend
#   ./run.sh matmul|llama|kv|tenants  one experiment
#   ./run.sh ci             a quick smoke run of each experiment on cpu, output in a temp dir,
#                           and the compare gate (a second matmul run must compare clean)
#
# Extra arguments go to the harness, e.g. ./run.sh all -backend cpu -quick.
# Results land in results/<machine>/ and figures in plots/<machine>/.
set -euo pipefail
cd "$(dirname "$0")"
what="${1:-all}"
shift || true

# Build the harness; on a machine without Go (a GPU box), use a bin/harness
# cross-built elsewhere: CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -o bin/harness ./harness
mkdir -p bin
if command -v go >/dev/null; then
  go build -o bin/harness ./harness
elif [ ! -x bin/harness ]; then
  echo "run.sh: no Go toolchain and no bin/harness" >&2
  exit 1
fi

case "$what" in
all)
  for spec in experiments/*.yaml; do
    echo "== $spec" >&2
    ./bin/harness -spec "$spec" "$@"
  done
  ;;
ci)
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
  for spec in experiments/*.yaml; do
    echo "== $spec (quick, cpu)" >&2
    ./bin/harness -spec "$spec" -quick -backend cpu -no-progress -out "$out" "$@"
  done
  # The outputs a user relies on exist and parse.
  for f in "$out"/results/*/*.json; do
    ./bin/harness report "$f" >/dev/null
  done
  ls "$out"/plots/*/*.png "$out"/plots/*/*.svg >/dev/null
  # The regression gate: a second quick matmul run of the same commit must
  # pass compare (judged against the committed run-to-run calibration of
  # this machine kind), and a matmul file against a llama file is refused.
  # A flagged slowdown is measured again: a regression is one that a fresh
  # run repeats. One run of a shared 2-core machine can be slow as a whole
  # for a case (CI once saw n=64/wasm-copy +31% against a calibrated band of
  # 30%, its fastest repetition as slow as its median); two in a row is what
  # a real regression does and noise rarely does (REPRODUCE.md section 7).
  echo "== compare gate: two quick matmul runs of this commit" >&2
  ./bin/harness -spec experiments/matmul.yaml -quick -backend cpu -no-progress -out "$out/again" "$@" >/dev/null
  noise=results/cpu-amd-epyc/aa-study/noise-matmul-quick-20261205.json
  set +e
  ./bin/harness compare -noise "$noise" "$out"/results/*/matmul-*.json "$out"/again/results/*/matmul-*.json
  code=$?
  set -e
  if [ "$code" = 1 ]; then
    echo "== compare gate: a slowdown was flagged; a third run must repeat it to fail" >&2
    ./bin/harness -spec experiments/matmul.yaml -quick -backend cpu -no-progress -out "$out/confirm" "$@" >/dev/null
    ./bin/harness compare -noise "$noise" "$out"/results/*/matmul-*.json "$out"/confirm/results/*/matmul-*.json
  elif [ "$code" != 0 ]; then
    exit "$code"
  fi
  set +e
  ./bin/harness compare "$out"/results/*/matmul-*.json "$out"/results/*/llama-*.json
  code=$?
  set -e
  if [ "$code" != 2 ]; then
    echo "run.sh ci: compare of a matmul file with a llama file exited $code, want 2" >&2
    exit 1
  fi
  echo "run.sh ci: ok ($(ls "$out"/results/*/*.json | wc -l) result files; compare gate passed)" >&2
  ;;
matmul | llama | kv | tenants)
  ./bin/harness -exp "$what" "$@"
  ;;
*)
  echo "usage: ./run.sh all | matmul | llama | kv | tenants | ci [harness flags]" >&2
  exit 2
  ;;
esac
