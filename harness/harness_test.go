package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/results"
)

const tinySpec = `experiment: matmul
seed: 3
warmup: 1
repetitions: 3
min_repetitions: 2
budget_seconds: 5
check_work: 1000000
tolerance: 1.0e-5
host_call_iterations: 1000
region_mib: [1]
backends:
  cpu:
    sizes: [16, 33]
    wasm_modes: [zerocopy, copy]
    native_modes: [zerocopy]
`

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunWritesOutputs runs a small matmul spec end to end on cpu.
func TestRunWritesOutputs(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "mm.yaml", tinySpec)
	code, err := run(runOptions{spec: spec, backend: "cpu", out: dir, cache: "none", noProgress: true})
	if err != nil || code != 0 {
		t.Fatalf("run: code %d, %v", code, err)
	}
	jsons, _ := filepath.Glob(filepath.Join(dir, "results", "*", "matmul-*.json"))
	if len(jsons) != 1 {
		t.Fatalf("want one result file, got %v", jsons)
	}
	f, err := results.Load(jsons[0])
	if err != nil {
		t.Fatal(err)
	}
	if f.Provenance.Device.Backend != "cpu" || f.Spec.Text != tinySpec || f.Provenance.GoVersion == "" {
		t.Errorf("provenance incomplete: %+v", f.Provenance)
	}
	variants := map[string]bool{}
	for _, c := range f.Cases {
		variants[c.Variant] = true
		if c.Group == "host-call" {
			continue
		}
		if len(c.Samples) != 3 || len(c.Warmup) != 1 {
			t.Errorf("%s: %d samples, %d warm-up; want 3 and 1", c.Name(), len(c.Samples), len(c.Warmup))
		}
		if e := c.Metrics["max_rel_err"]; !(e < 1e-5) {
			t.Errorf("%s: max relative error %g", c.Name(), e)
		}
		inPlace := c.Labels["in_place"] == "true"
		if inPlace != strings.HasSuffix(c.Variant, "zerocopy") {
			t.Errorf("%s: in_place %v", c.Name(), inPlace)
		}
	}
	for _, v := range []string{"native-zerocopy", "wasm-zerocopy", "wasm-copy", "wasm-nop"} {
		if !variants[v] {
			t.Errorf("variant %s missing", v)
		}
	}
	stem := strings.TrimSuffix(jsons[0], ".json")
	for _, p := range []string{stem + ".md", stem + ".bench"} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	for _, fig := range []string{"matmul-latency", "matmul-rss"} {
		for _, ext := range []string{".png", ".svg"} {
			m, _ := filepath.Glob(filepath.Join(dir, "plots", "*", fig+ext))
			if len(m) != 1 {
				t.Errorf("figure %s%s missing", fig, ext)
			}
		}
	}
	if code := compareMain([]string{jsons[0], jsons[0]}); code != 0 {
		t.Errorf("compare of a file with itself exited %d", code)
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", strings.Replace(tinySpec, "repetitions: 3", "repetitions: -3", 1))
	for _, tc := range []struct {
		name string
		o    runOptions
		want string
	}{
		{"bad spec value", runOptions{spec: bad, backend: "cpu"}, "bad.yaml:4"},
		{"missing spec", runOptions{spec: filepath.Join(dir, "nope.yaml"), backend: "cpu"}, "nope.yaml"},
		{"unknown experiment", runOptions{spec: writeFile(t, dir, "x.yaml", "experiment: sorting\n"), backend: "cpu"}, `unknown experiment "sorting"`},
		{"no experiment field", runOptions{spec: writeFile(t, dir, "y.yaml", "seed: 1\n"), backend: "cpu"}, `missing field "experiment"`},
		{"unknown backend", runOptions{spec: writeFile(t, dir, "z.yaml", tinySpec), backend: "tpu"}, `unknown backend "tpu"`},
		{"unknown mode", runOptions{spec: writeFile(t, dir, "w.yaml", tinySpec), backend: "cpu", modes: "warp"}, `unknown memory mode "warp"`},
		{"mode filter leaves nothing", runOptions{spec: writeFile(t, dir, "v.yaml", tinySpec), backend: "cpu", modes: "managed"}, "no memory mode left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.out, tc.o.cache, tc.o.noProgress = dir, "none", true
			_, err := run(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestCompareExitCodes(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, scale float64) string {
		f := &results.File{Schema: results.SchemaVersion, Experiment: "matmul"}
		var s []float64
		for i := 0; i < 20; i++ {
			s = append(s, scale*(1+float64(i%5)/100))
		}
		f.Cases = []results.Case{results.Case{Group: "n=64", Variant: "wasm-zerocopy", Samples: s}.Summarize()}
		p := filepath.Join(dir, name)
		if err := f.WriteAtomic(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base, slow, fast := mk("base.json", 1), mk("slow.json", 1.5), mk("fast.json", 0.7)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{base, slow}, 1},
		{[]string{"-threshold", "0.8", base, slow}, 0},
		{[]string{base, fast}, 0},
		{[]string{base}, 2},
		{[]string{base, filepath.Join(dir, "missing.json")}, 1},
		{[]string{"-threshold", "-1", base, slow}, 2},
	} {
		if got := compareMain(tc.args); got != tc.want {
			t.Errorf("compare %v exited %d, want %d", tc.args, got, tc.want)
		}
	}
}

func TestGenerate(t *testing.T) {
	var out, errs strings.Builder
	code := generateMain([]string{"-synthetic", "tiny", "-prompt", "hello", "-n", "5", "-backend", "cpu"}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if !strings.Contains(errs.String(), "5 tokens") || !strings.Contains(errs.String(), "in the Wasm guest") {
		t.Fatalf("stderr %q", errs.String())
	}
	for _, args := range [][]string{
		{"-prompt", "x"},       // neither -model nor -synthetic
		{"-synthetic", "tiny"}, // no prompt
		{"-synthetic", "tiny", "-model", "d", "-prompt", "x"}, // both
	} {
		if code := generateMain(args, &out, &errs); code != 2 {
			t.Errorf("generate %v exited %d, want 2", args, code)
		}
	}
	if code := generateMain([]string{"-synthetic", "huge", "-prompt", "x", "-backend", "cpu"}, &out, &errs); code != 1 {
		t.Errorf("unknown preset exited %d, want 1", code)
	}
	if code := generateMain([]string{"-model", t.TempDir(), "-prompt", "x", "-backend", "cpu"}, &out, &errs); code != 1 {
		t.Errorf("empty model folder exited %d, want 1", code)
	}
}
