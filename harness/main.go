// Command harness runs wasmgpu's experiments and compares their results.
//
// Usage:
//
//	harness [flags]                         run an experiment (default: matmul)
//	harness compare [flags] BASE.json NEW.json [MORE.json…]
//	harness noise -o NOISE.json RUN.json…   calibrate run-to-run noise for compare
//	harness report [flags] RESULT.json      print a result's table, redraw its figures
//	harness generate -model DIR -prompt TEXT [flags]
//	harness -h | harness COMMAND -h         help
//
// # Running an experiment
//
// A run reads a declarative spec (the built-in experiments/<exp>.yaml, or
// -spec FILE), opens a device backend, runs every case and variant the spec
// asks for on it, prints the table on standard output and writes, under
// -out (default: the current directory):
//
//	results/<machine>/<exp>-<UTC time>.json   raw samples, statistics, provenance
//	results/<machine>/<exp>-<UTC time>.md     the table in Markdown, every column
//	results/<machine>/<exp>-<UTC time>.bench  one line per repetition, for benchstat
//	plots/<machine>/<exp>-<UTC time>-*.png, .svg   figures of this run
//	plots/<machine>/<exp>-*.png, .svg         the same figures: the latest run's
//
// <machine> is the backend and the device's name, e.g.
// cuda-nvidia-h100-80gb-hbm3. Progress goes to standard error. The specs are
// built into the binary, so it runs from any folder (a binary copied to a
// GPU machine needs nothing beside it).
//
// Flags:
//
//	-exp NAME        experiment: matmul (default), llama, kv or tenants; its built-in spec
//	-spec FILE       a spec file instead of the built-in one
//	-backend NAME    auto (default: cuda if a GPU is usable, else metal on a Mac, else cpu), cpu, cuda or metal
//	-mode LIST       comma-separated memory modes to keep (cpu: zerocopy, copy; cuda: copy, mapped, managed, resident; metal: zerocopy, copy)
//	-quick           the spec's quick profile: fewer sizes and repetitions
//	-reps N          timed repetitions (llama, kv and tenants add their warm-up repetition)
//	-warmup N        warm-up calls (matmul)
//	-set KEY=V,V     the cases: matmul n=…, llama prompt=… and decode=…, kv ctx=…, tenants tenants=…, prompt=… and decode=…; repeatable
//	-format F        standard output: table (default, ≤ 100 columns), md, csv or json (the result file)
//	-out DIR         root for results/ and plots/ (default .); checked for writing before anything runs
//	-model DIR       Hugging Face model folder for llama, kv and tenants (default: synthetic weights)
//	-cache DIR       wazero compilation cache (default: the user cache dir; "none" disables it)
//	-no-progress     no progress bar
//	-v               say more: why auto passed over a backend (e.g. libcuda not found)
//	-cpuprofile FILE write a Go CPU profile of the run (go tool pprof reads it)
//
// A spec is decoded strictly: an unknown field, a wrong type, a missing or
// out-of-range value is an error naming the file, line and field, reported
// before anything runs. Memory: llama and kv hold the 1B model's bf16
// weights (2.5 GB) and its KV caches, about 4.1 GB of RAM at their peak;
// matmul needs under 1 GB.
//
// Ctrl-C (SIGINT) or SIGTERM stops a run within a second and writes
// nothing: results are written only for a run that completed, each file
// atomically, so a file in results/ is always a whole run. The exit
// status is then 130.
//
// Exit status: 0 when everything ran and every correctness check passed;
// 1 on an error; 2 on bad usage; 3 when results were written but a
// correctness check failed (the result's failures say which); 130 when
// interrupted.
//
// # compare
//
// compare compares each file after the first with the first, case by case,
// as benchstat compares columns, and exits 1 when a case regressed. Each
// case's samples are reduced to one median per repetition, the unit of
// replication (the tokens of one decode share its state and are not
// independent), and a change is measured on each run's fastest repetition
// (other tenants of a shared machine only add time). The Mann-Whitney U
// test of the repetition medians must be significant (α = 0.05) and the
// slowdown must exceed the row's "min Δ": the largest of -threshold
// (default 0.05, i.e. 5%), the row's noise and what its repetitions can
// resolve at all. The noise is the run-to-run band from a -noise
// calibration where it has the case, else half the range of the row's
// repetition medians. Each row shows both. A case measured while other
// processes used more than a quarter of a core is "busy" and not judged.
//
// compare refuses (exit 2) files of different experiments, specs, profiles,
// overrides, backends or devices, unless -force; it warns when the
// machines differ (host, CPU, kernel, CPU flags, GOAMD64, memory, governor,
// GPU clocks) and shows each file's commit and load average. Flags:
// -threshold f, -noise FILE, -force, -format table|md|csv.
//
// # noise
//
// noise calibrates compare: given k ≥ 3 result files of one commit, spec and
// machine, it writes for each case the band one run's fastest repetition
// stays within of another's (exp(t·√2·σ⁺) − 1: σ⁺ the 90% upper bound of
// the standard deviation of their logarithms, t the Student-t quantile of
// k − 1 degrees of freedom at 0.999; busy cases left out).
// scripts/aa-study.sh makes one and measures how often compare then flags
// runs of the same code (the false-alarm rate) and whether it catches a 10%
// slowdown injected with WASMGPU_TEST_SLOWDOWN.
//
// # report
//
// report prints a result file's table (-format table|md|csv) and, with
// -figures DIR, draws its figures into DIR, named as a run names them
// (the latest copies too).
//
// # generate
//
// generate prints the continuation of a prompt, for people who have real
// weights: -model names a Hugging Face Llama folder (config.json,
// model.safetensors, tokenizer.json); the prompt is wrapped in the Llama 3
// Instruct chat template unless -chat=false; the engine runs inside the Wasm
// guest unless -native. Flags: -n (tokens), -temperature (0: greedy), -top-p,
// -seed, -system, -max-seq, -backend, -mode. -synthetic tiny|llama-3.2-1b
// runs synthetic weights with a byte-level tokenizer: the text is
// gibberish (shown with its bytes escaped where they are not printable),
// but the whole path runs.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "compare":
			os.Exit(compareMain(os.Args[2:], os.Stdout, os.Stderr))
		case "noise":
			os.Exit(noiseMain(os.Args[2:], os.Stdout, os.Stderr))
		case "report":
			os.Exit(reportMain(os.Args[2:], os.Stdout, os.Stderr))
		case "generate":
			os.Exit(generateMain(os.Args[2:], os.Stdout, os.Stderr))
		case "help":
			usage(os.Stdout)
			os.Exit(0)
		}
	}
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// usage writes the top-level help: the commands and the experiments.
func usage(w io.Writer) {
	fmt.Fprintf(w, `usage: harness [flags]                         run an experiment (flags below)
       harness compare [flags] BASE.json NEW.json…  compare runs; exit 1 on a regression
       harness noise -o NOISE.json RUN.json…   calibrate run-to-run noise for compare
       harness report [flags] RESULT.json      print a result's table, redraw its figures
       harness generate -model DIR -prompt TEXT  talk to a model, inside the guest
       harness COMMAND -h                      a command's flags

experiments (-exp NAME; -set keys):
`)
	for _, d := range drivers {
		fmt.Fprintf(w, "  %-7s %s\n          -set %s\n", d.Name, d.About, strings.Join(d.SetKeys, "=…, ")+"=…")
	}
	fmt.Fprintf(w, "\nrun flags:\n")
}

// fail prints an error to stderr and returns code.
func fail(stderr io.Writer, code int, format string, args ...any) int {
	fmt.Fprintf(stderr, "harness: "+format+"\n", args...)
	return code
}
