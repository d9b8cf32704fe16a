package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/progress"
	"github.com/wasmgpu/wasmgpu/results"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/auto"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
)

// runOptions are the flags of an experiment run.
type runOptions struct {
	exp, spec, backend, modes, out, model, cache string
	cpuProfile                                   string
	quick, noProgress                            bool
}

func runMain(args []string) int {
	var o runOptions
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	fs.StringVar(&o.exp, "exp", "matmul", "experiment to run: reads experiments/NAME.yaml")
	fs.StringVar(&o.spec, "spec", "", "spec file to run instead of experiments/NAME.yaml")
	fs.StringVar(&o.backend, "backend", "auto", "device backend: auto, cpu, cuda or metal")
	fs.StringVar(&o.modes, "mode", "", "comma-separated memory modes to keep (default: all the spec lists)")
	fs.BoolVar(&o.quick, "quick", false, "run the spec's quick profile")
	fs.StringVar(&o.out, "out", ".", "root directory for results/ and plots/")
	fs.StringVar(&o.model, "model", "", "Hugging Face model folder (llama, kv); default synthetic weights")
	fs.StringVar(&o.cache, "cache", "", `wazero compilation cache directory ("none" disables it)`)
	fs.BoolVar(&o.noProgress, "no-progress", false, "do not draw a progress bar")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the run to this file")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: harness [flags]\n       harness compare [-threshold f] OLD.json NEW.json\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		return fail(2, "unexpected argument %q (see -h)", fs.Arg(0))
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fail(1, "-cpuprofile: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(1, "-cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	code, err := run(o)
	if err != nil {
		return fail(1, "%v", err)
	}
	return code
}

func run(o runOptions) (int, error) {
	path := o.spec
	if path == "" {
		path = filepath.Join("experiments", o.exp+".yaml")
	}
	kind, specText, err := specKind(path)
	if err != nil {
		return 0, err
	}
	drv, ok := drivers[kind]
	if !ok {
		return 0, fmt.Errorf("%s: unknown experiment %q (known: %v)", path, kind, driverNames())
	}
	var modes []device.Mode
	if o.modes != "" {
		for _, m := range strings.Split(o.modes, ",") {
			mode, err := device.ParseMode(strings.TrimSpace(m))
			if err != nil {
				return 0, fmt.Errorf("-mode: %w", err)
			}
			modes = append(modes, mode)
		}
	}
	cacheDir, err := wazeroCache(o.cache)
	if err != nil {
		return 0, err
	}
	dev, skipped, err := auto.Open(o.backend)
	if err != nil {
		return 0, err
	}
	defer dev.Close()
	info := dev.Info()
	fmt.Fprintf(os.Stderr, "harness: %s on %s (%s)\n", path, info.Backend, info.Name)
	for _, s := range skipped {
		fmt.Fprintf(os.Stderr, "harness: auto skipped %s\n", s)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if o.noProgress {
		progress.Disable()
	}
	var bar *progress.Bar
	shown := 0
	env := &experiments.Env{
		Device: dev, Modes: modes, Quick: o.quick, CacheDir: cacheDir, ModelDir: o.model,
		Log: os.Stderr,
		Progress: func(done, total int, what string) {
			if bar == nil {
				bar = progress.New(total, kind)
			}
			bar.Describe(what)
			bar.Add(done - shown)
			shown = done
		},
	}
	started := time.Now().UTC()
	f, err := drv.Run(ctx, env, path)
	bar.Finish()
	if err != nil {
		return 0, err
	}
	f.Schema = results.SchemaVersion
	f.Started, f.Finished = started, time.Now().UTC()
	sum := sha256.Sum256(specText)
	f.Spec = results.Spec{Path: path, SHA256: hex.EncodeToString(sum[:]), Text: string(specText)}
	prov := results.CollectProvenance()
	prov.Device = results.DeviceInfo(info)
	prov.Mode, prov.Weights, prov.DTypes = f.Provenance.Mode, f.Provenance.Weights, f.Provenance.DTypes
	prov.Args = os.Args
	gsum := sha256.Sum256(guest.Wasm)
	prov.Extra = mergeMaps(f.Provenance.Extra, map[string]string{
		"guest_wasm_sha256": hex.EncodeToString(gsum[:]),
		"profile":           map[bool]string{true: "quick", false: "full"}[o.quick],
	})
	if len(skipped) > 0 {
		prov.Extra["auto_skipped"] = strings.Join(skipped, "; ")
	}
	f.Provenance = prov

	if err := writeOutputs(o.out, drv, f); err != nil {
		return 0, err
	}
	for _, n := range f.Notes {
		if strings.HasPrefix(n, "INCORRECT") {
			fmt.Fprintln(os.Stderr, "harness: a correctness check failed:", n)
			return 3, nil
		}
	}
	return 0, nil
}

// writeOutputs writes the result JSON, the Markdown table, the benchmark
// format file and the figures, and prints the table.
func writeOutputs(root string, drv experiments.Driver, f *results.File) error {
	machine := f.Provenance.Device.Backend + "-" + f.Provenance.Device.Name
	jsonPath := results.DefaultPath(root, machine, f.Experiment, f.Started)
	if err := f.WriteAtomic(jsonPath); err != nil {
		return err
	}
	stem := strings.TrimSuffix(jsonPath, ".json")
	var md bytes.Buffer
	fmt.Fprintf(&md, "# %s on %s (%s)\n\n", f.Experiment, f.Provenance.Device.Name, f.Provenance.Device.Backend)
	fmt.Fprintf(&md, "Run %s, commit %s, %s, spec %s (sha256 %.12s).\n\n", f.Started.Format(time.RFC3339), f.Provenance.GitCommit, f.Provenance.GoVersion, f.Spec.Path, f.Spec.SHA256)
	if err := drv.Table(&md, f, true); err != nil {
		return err
	}
	for _, n := range f.Notes {
		fmt.Fprintf(&md, "\n- %s", n)
	}
	md.WriteString("\n")
	if err := writeAtomic(stem+".md", md.Bytes()); err != nil {
		return err
	}
	var bench bytes.Buffer
	if err := results.WriteBenchfmt(&bench, f); err != nil {
		return err
	}
	if err := writeAtomic(stem+".bench", bench.Bytes()); err != nil {
		return err
	}
	if err := drv.Table(os.Stdout, f, false); err != nil {
		return err
	}
	for _, n := range f.Notes {
		fmt.Println("note:", n)
	}
	plotDir := filepath.Join(root, "plots", results.Slug(machine))
	figs, err := drv.Figures(plotDir, f.Experiment, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "harness: wrote %s, %s.md, %s.bench\n", jsonPath, stem, stem)
	for _, p := range figs {
		fmt.Fprintf(os.Stderr, "harness: wrote %s.png and .svg\n", p)
	}
	return nil
}

// writeAtomic writes data to path through a temporary file and a rename, so
// a reader never sees a half-written file.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, bytes.NewReader(data))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func wazeroCache(flagValue string) (string, error) {
	switch flagValue {
	case "none":
		return "", nil
	case "":
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", nil
		}
		return filepath.Join(dir, "wasmgpu", "wazero"), nil
	}
	return flagValue, nil
}

func mergeMaps(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
