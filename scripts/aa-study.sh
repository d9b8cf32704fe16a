#!/usr/bin/env bash
# False-alarm study of `harness compare` on this machine (see scripts/aastudy):
# 10 calibration runs, 20 A/A pairs and 5 pairs with a 10% slowdown injected,
# all quick matmul runs on cpu (about a minute per pair on a 2-core box).
# Writes results/<machine>/aa-study/{noise-matmul-quick.json,aa-study.json,
# aa-study.md,aa-study.png,aa-study.svg}. Extra arguments go to aastudy,
# e.g. scripts/aa-study.sh -pairs 40.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
go build -o bin/harness ./harness
go run ./scripts/aastudy -harness bin/harness "$@"
