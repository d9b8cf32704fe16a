package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/progress"
	"github.com/wasmgpu/wasmgpu/report"
	"github.com/wasmgpu/wasmgpu/results"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/auto"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
)

// runOptions are the flags of an experiment run.
type runOptions struct {
	exp, spec, backend, modes, out, model, cache string
	format, cpuProfile, tmp                      string
	quick, noProgress, verbose                   bool
	overrides                                    experiments.Overrides
}

// errInterrupted ends a run stopped by a signal.
var errInterrupted = errors.New("interrupted: nothing written")

// exitInterrupted is the exit status of an interrupted run (128 + SIGINT).
const exitInterrupted = 130

// interruptGrace is how long an interrupted run may take to return before
// the process exits without it.
const interruptGrace = 500 * time.Millisecond

func runMain(args []string, stdout, stderr io.Writer) int {
	var o runOptions
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	fs.StringVar(&o.exp, "exp", "matmul", "experiment to run: "+driverNames())
	fs.StringVar(&o.spec, "spec", "", "spec file to run instead of the built-in experiments/NAME.yaml")
	fs.StringVar(&o.backend, "backend", "auto", "device backend: auto, cpu, cuda or metal")
	fs.StringVar(&o.modes, "mode", "", "comma-separated memory modes to keep (default: all the spec lists)")
	fs.BoolVar(&o.quick, "quick", false, "run the spec's quick profile")
	fs.IntVar(&o.overrides.Reps, "reps", 0, "timed repetitions (default: the spec's)")
	fs.IntVar(&o.overrides.Warmup, "warmup", 0, "warm-up calls (matmul; default: the spec's)")
	fs.Func("set", "cases, KEY=V[,V…]: matmul n, llama prompt and decode, kv ctx, tenants tenants, prompt and decode (repeatable)", o.overrides.ParseSet)
	fs.StringVar(&o.format, "format", "table", "standard output: table, md, csv or json")
	fs.StringVar(&o.out, "out", ".", "root directory for results/ and plots/")
	fs.StringVar(&o.model, "model", "", "Hugging Face model folder (llama, kv, tenants); default synthetic weights")
	fs.StringVar(&o.cache, "cache", "", `wazero compilation cache directory ("none" disables it)`)
	fs.BoolVar(&o.noProgress, "no-progress", false, "do not draw a progress bar")
	fs.BoolVar(&o.verbose, "v", false, "say why auto passed over a backend")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the run to this file")
	if code, ok := parseCommand(fs, args, stdout, stderr, "", usage); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(stderr, 2, "unexpected argument %q (commands: compare, noise, report, generate; see -h)", fs.Arg(0))
	}
	if o.overrides.Reps < 0 || o.overrides.Warmup < 0 {
		return fail(stderr, 2, "-reps and -warmup must be ≥ 1")
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fail(stderr, 1, "-cpuprofile: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(stderr, 1, "-cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}

	tmp, err := os.MkdirTemp("", "wasmgpu-run-")
	if err != nil {
		return fail(stderr, 1, "%v", err)
	}
	defer os.RemoveAll(tmp)
	o.tmp = tmp
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		// A kernel in flight (a long prefill, a GEMM) does not look at
		// ctx: give the run half a second to return, then leave without
		// it. Nothing has been written; results are written only at the
		// end.
		select {
		case <-done:
			return
		case <-sigs:
		}
		cancel()
		fmt.Fprintln(stderr, "\nharness: interrupted: stopping; nothing is written")
		select {
		case <-done:
		case <-time.After(interruptGrace):
			pprof.StopCPUProfile()
			os.RemoveAll(tmp)
			os.Exit(exitInterrupted)
		}
	}()
	code, err := run(ctx, o, stdout, stderr)
	switch {
	case errors.Is(err, errInterrupted) || (err != nil && ctx.Err() != nil):
		return exitInterrupted
	case errors.As(err, new(usageError)):
		return fail(stderr, 2, "%v", err)
	case err != nil:
		return fail(stderr, 1, "%v", err)
	}
	return code
}

// usageError is a run refused for how it was asked for (exit 2).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// loadSpec returns the spec's path (as results record it) and text: -spec
// read from disk, else the built-in spec of -exp.
func loadSpec(o runOptions) (string, []byte, error) {
	if o.spec != "" {
		data, err := os.ReadFile(o.spec)
		if err != nil {
			return "", nil, fmt.Errorf("read spec: %w", err)
		}
		return o.spec, data, nil
	}
	data, err := experiments.BuiltinSpec(o.exp)
	if err != nil {
		return "", nil, usagef("-exp: %v", err)
	}
	return "experiments/" + o.exp + ".yaml", data, nil
}

func run(ctx context.Context, o runOptions, stdout, stderr io.Writer) (int, error) {
	path, specText, err := loadSpec(o)
	if err != nil {
		return 0, err
	}
	kind, err := specKind(path, specText)
	if err != nil {
		return 0, err
	}
	drv, err := findDriver(kind)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if err := drv.Check(path, specText); err != nil {
		return 0, err
	}
	if err := o.overrides.Check(drv); err != nil {
		return 0, usageError{err}
	}
	if o.model != "" && !drv.UsesModel {
		return 0, usagef("-model: %s loads no model (llama, kv and tenants do)", drv.Name)
	}
	var format report.Format
	if o.format != "json" {
		if format, err = report.ParseFormat(o.format); err != nil {
			return 0, usagef("-format: %v", err)
		}
	}
	cacheDir := wazeroCache(o.cache)
	dev, skipped, err := auto.Open(o.backend)
	if err != nil {
		return 0, err
	}
	defer dev.Close()
	info := dev.Info()
	modes, err := selectModes(o.modes, dev)
	if err != nil {
		return 0, err
	}
	machine := info.Backend + "-" + info.Name
	if err := checkWritable(o.out, machine); err != nil {
		return 0, err
	}
	fmt.Fprintf(stderr, "harness: %s on %s (%s)\n", path, info.Backend, info.Name)
	if o.verbose {
		for _, s := range skipped {
			fmt.Fprintf(stderr, "harness: auto passed over %s\n", s)
		}
	}
	if s := experiments.Slowdown(); s > 0 {
		fmt.Fprintf(stderr, "harness: %s=%g: every measured operation is made %.0f%% slower (a test knob)\n", experiments.SlowdownEnv, s, s*100)
	}

	if o.noProgress {
		progress.Disable()
	}
	var bar *progress.Bar
	shown := 0
	env := &experiments.Env{
		Device: dev, Modes: modes, Quick: o.quick, CacheDir: cacheDir, ModelDir: o.model, Overrides: o.overrides, TempDir: o.tmp,
		Log: stderr,
		Progress: func(done, total int, what string) {
			if bar == nil {
				bar = progress.New(total, kind)
			}
			bar.Describe(what)
			bar.Add(done - shown)
			shown = done
		},
	}
	prov := results.CollectProvenance()
	started := time.Now().UTC()
	f, err := drv.Run(ctx, env, path, specText)
	bar.Finish()
	if ctx.Err() != nil {
		return 0, errInterrupted
	}
	if err != nil {
		return 0, err
	}
	f.Schema = results.SchemaVersion
	f.Started, f.Finished = started, time.Now().UTC()
	sum := sha256.Sum256(specText)
	f.Spec = results.Spec{Path: path, SHA256: hex.EncodeToString(sum[:]), Text: string(specText)}
	prov.Host.LoadEnd = results.LoadAverage()
	prov.Device = results.DeviceInfo(info)
	prov.Mode, prov.Weights, prov.DTypes = f.Provenance.Mode, f.Provenance.Weights, f.Provenance.DTypes
	prov.Profile = map[bool]string{true: "quick", false: "full"}[o.quick]
	prov.Overrides = o.overrides.Strings()
	prov.Numbers, prov.Extra = f.Provenance.Numbers, f.Provenance.Extra
	gsum := sha256.Sum256(guest.Wasm)
	prov.SetExtra("guest_wasm_sha256", hex.EncodeToString(gsum[:]))
	if s := experiments.Slowdown(); s > 0 {
		prov.SetNumber("test_slowdown", s)
	}
	if len(skipped) > 0 {
		prov.SetExtra("auto_skipped", strings.Join(skipped, "; "))
	}
	f.Provenance = prov

	if err := writeOutputs(o.out, drv, f, stderr); err != nil {
		return 0, err
	}
	if err := printResult(stdout, stderr, drv, f, o.format, format); err != nil {
		return 0, err
	}
	if len(f.Failures) > 0 {
		for _, fl := range f.Failures {
			fmt.Fprintln(stderr, "harness: a correctness check failed:", fl)
		}
		return 3, nil
	}
	return 0, nil
}

// selectModes parses -mode and checks each mode against the device's.
func selectModes(list string, dev device.Device) ([]device.Mode, error) {
	if list == "" {
		return nil, nil
	}
	have := dev.Modes()
	names := make([]string, len(have))
	for i, m := range have {
		names[i] = string(m)
	}
	var modes []device.Mode
	for _, s := range strings.Split(list, ",") {
		mode, err := device.ParseMode(strings.TrimSpace(s))
		if err != nil {
			return nil, usagef("-mode: %v", err)
		}
		if !slices.Contains(have, mode) {
			return nil, usagef("-mode %s: the %s backend has no %s mode (it has %s)", s, dev.Info().Backend, mode, strings.Join(names, ", "))
		}
		modes = append(modes, mode)
	}
	return modes, nil
}

// checkWritable makes sure the run's output folders can be written before
// anything runs: a wrong -out must not cost a run's measurements.
func checkWritable(root, machine string) error {
	for _, dir := range []string{filepath.Join(root, "results", results.Slug(machine)), filepath.Join(root, "plots", results.Slug(machine))} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("-out %s: cannot write results: %w", root, err)
		}
		f, err := os.CreateTemp(dir, ".write-check-*")
		if err != nil {
			return fmt.Errorf("-out %s: cannot write results: %w", root, err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	return nil
}

// printResult writes the run's table (or JSON) on standard output; notes go
// there too for a table, to standard error for the machine formats.
func printResult(stdout, stderr io.Writer, drv experiments.Driver, f *results.File, name string, format report.Format) error {
	notes := stdout
	switch {
	case name == "json":
		data, err := f.Encode()
		if err != nil {
			return err
		}
		if _, err := stdout.Write(data); err != nil {
			return err
		}
		notes = io.Discard // they are in the JSON
	default:
		if err := drv.Table(stdout, f, format); err != nil {
			return err
		}
		if format == report.CSV {
			notes = stderr
		}
	}
	for _, n := range f.Notes {
		fmt.Fprint(notes, report.Wrap("note: "+n, 100))
	}
	return nil
}

// writeOutputs writes the result JSON, the Markdown table, the benchmark
// format file and the figures (this run's and the latest copies).
func writeOutputs(root string, drv experiments.Driver, f *results.File, log io.Writer) error {
	jsonPath := results.DefaultPath(root, f.Machine(), f.Experiment, f.Started)
	if err := f.WriteAtomic(jsonPath); err != nil {
		return err
	}
	stem := strings.TrimSuffix(jsonPath, ".json")
	var md bytes.Buffer
	if err := markdown(&md, drv, f); err != nil {
		return err
	}
	if err := results.WriteFile(stem+".md", md.Bytes()); err != nil {
		return err
	}
	var bench bytes.Buffer
	if err := results.WriteBenchfmt(&bench, f); err != nil {
		return err
	}
	if err := results.WriteFile(stem+".bench", bench.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(log, "harness: wrote %s, %s.md, %s.bench\n", jsonPath, stem, stem)
	figs, err := figures(filepath.Join(root, "plots", results.Slug(f.Machine())), drv, f)
	for _, p := range figs {
		fmt.Fprintf(log, "harness: wrote %s.png and .svg\n", p)
	}
	return err
}

// markdown writes a result's Markdown document: a header naming the run,
// every column of the table, the failures and the notes.
func markdown(w io.Writer, drv experiments.Driver, f *results.File) error {
	p := f.Provenance
	fmt.Fprintf(w, "# %s on %s (%s)\n\n", f.Experiment, p.Device.Name, p.Device.Backend)
	fmt.Fprintf(w, "Run %s, commit %s, %s, spec %s (sha256 %.12s), %s profile", f.Started.Format(time.RFC3339), p.GitCommit, p.GoVersion, f.Spec.Path, f.Spec.SHA256, p.Profile)
	if len(p.Overrides) > 0 {
		fmt.Fprintf(w, ", overrides %s", strings.Join(p.Overrides, " "))
	}
	fmt.Fprintf(w, ".\n\n")
	if err := drv.Table(w, f, report.Markdown); err != nil {
		return err
	}
	for _, fl := range f.Failures {
		fmt.Fprintf(w, "\n- **correctness check failed**: %s", fl)
	}
	for _, n := range f.Notes {
		fmt.Fprintf(w, "\n- %s", n)
	}
	fmt.Fprintln(w)
	return nil
}

// figures draws a run's figures as dir/<exp>-<time>-<name> and copies each
// to dir/<exp>-<name>, the stable latest copy documents link.
func figures(dir string, drv experiments.Driver, f *results.File) ([]string, error) {
	stem := results.Slug(f.Experiment) + "-" + f.Started.UTC().Format(results.TimeFormat)
	paths, err := drv.Figures(dir, stem, f)
	if err != nil {
		return paths, err
	}
	var all []string
	for _, p := range paths {
		latest := filepath.Join(dir, results.Slug(f.Experiment)+strings.TrimPrefix(filepath.Base(p), stem))
		for _, ext := range []string{".png", ".svg"} {
			data, err := os.ReadFile(p + ext)
			if err != nil {
				return all, err
			}
			if err := results.WriteFile(latest+ext, data); err != nil {
				return all, err
			}
		}
		all = append(all, p, latest)
	}
	return all, nil
}

func wazeroCache(flagValue string) string {
	switch flagValue {
	case "none":
		return ""
	case "":
		dir, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(dir, "wasmgpu", "wazero")
	}
	return flagValue
}
