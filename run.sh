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
  echo "== compare gate: two quick matmul runs of this commit" >&2
  ./bin/harness -spec experiments/matmul.yaml -quick -backend cpu -no-progress -out "$out/again" "$@" >/dev/null
  noise=results/cpu-amd-epyc/aa-study/noise-matmul-quick.json
  ./bin/harness compare -noise "$noise" "$out"/results/*/matmul-*.json "$out"/again/results/*/matmul-*.json
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
