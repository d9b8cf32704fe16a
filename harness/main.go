// Command harness runs wasmgpu's experiments and compares their results.
//
// Usage:
//
//	go run ./harness [flags]                  run an experiment
//	go run ./harness compare [-threshold f] OLD.json NEW.json
//	go run ./harness generate -model DIR -prompt TEXT [flags]
//
// Running an experiment reads a declarative spec (experiments/<exp>.yaml, or
// -spec FILE), opens a device backend, runs every case and variant the spec
// asks for on it, and writes:
//
//	results/<machine>/<exp>-<UTC time>.json   raw samples, statistics, provenance
//	results/<machine>/<exp>-<UTC time>.md     the table in Markdown
//	results/<machine>/<exp>-<UTC time>.bench  samples in Go benchmark format (benchstat reads it)
//	plots/<machine>/<exp>-*.png, .svg         figures
//
// under -out (default: the current directory), and the table on standard
// output. <machine> is the backend and the device's name, e.g.
// cuda-nvidia-h100-80gb-hbm3. Progress goes to standard error.
//
// Flags:
//
//	-exp NAME        experiment to run: matmul (default), llama or kv; reads experiments/NAME.yaml
//	-spec FILE       spec file to run instead of experiments/NAME.yaml
//	-backend NAME    auto (default: cuda if a GPU is usable, else metal on a Mac, else cpu), cpu, cuda or metal
//	-mode LIST       comma-separated memory modes to keep (copy, zerocopy, mapped, managed, resident); default all the spec lists
//	-quick           the spec's quick profile: fewer sizes and repetitions
//	-out DIR         root for results/ and plots/ (default .)
//	-model DIR       Hugging Face model folder for llama and kv (default: synthetic weights)
//	-cache DIR       wazero compilation cache (default: the user cache dir; "none" disables it)
//	-no-progress     no progress bar
//	-cpuprofile FILE write a Go CPU profile of the run (go tool pprof reads it)
//
// A spec is decoded strictly: an unknown field, a wrong type, a missing or
// out-of-range value is an error naming the file, line and field, reported
// before anything runs.
//
// Exit status: 0 when everything ran and every correctness check passed, 1
// on an error, 2 on bad usage, 3 when results were written but a correctness
// check failed (the notes in the JSON and the table say which).
//
// compare prints, for every case in both files, the old and new median, the
// change and a Mann-Whitney U test (α = 0.05), like benchstat; it exits 1 when
// a statistically significant slowdown exceeds -threshold (default 0.05, i.e. 5%).
//
// generate prints the continuation of a prompt, for people who have real
// weights: -model names a Hugging Face Llama folder (config.json,
// model.safetensors, tokenizer.json); the prompt is wrapped in the Llama 3
// Instruct chat template unless -chat=false; the engine runs inside the Wasm
// guest unless -native. Flags: -n (tokens), -temperature (0: greedy), -top-p,
// -seed, -system, -max-seq, -backend, -mode. -synthetic tiny|llama-3.2-1b
// runs synthetic weights with a byte-level tokenizer, which prints gibberish
// but exercises the whole path.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "compare":
			os.Exit(compareMain(os.Args[2:]))
		case "generate":
			os.Exit(generateMain(os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	os.Exit(runMain(os.Args[1:]))
}

func fail(code int, format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "harness: "+format+"\n", args...)
	return code
}
