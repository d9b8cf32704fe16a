package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/results"
)

// TestMain lets a test run the harness's main in a subprocess: with
// HARNESS_TEST_ARGS set (a JSON list), the test binary is the harness.
func TestMain(m *testing.M) {
	if a := os.Getenv("HARNESS_TEST_ARGS"); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			panic(err)
		}
		os.Args = append([]string{"harness"}, args...)
		main()
		return
	}
	os.Exit(m.Run())
}

// small is the built-in matmul spec cut down to two small sizes and three
// rounds: a run of a second.
var small = []string{"-exp", "matmul", "-set", "n=16,33", "-reps", "3", "-warmup", "1"}

// builtin is the built-in spec of exp.
func builtin(t *testing.T, exp string) string {
	t.Helper()
	data, err := experiments.BuiltinSpec(exp)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// syncBuffer is a bytes.Buffer safe for a goroutine that may write late.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runHarness runs the harness's run command in this process.
func runHarness(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	code = runMain(args, &out, &errs)
	return code, out.String(), errs.String()
}

// TestRunWritesOutputs runs a small matmul spec end to end on cpu.
func TestRunWritesOutputs(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "mm.yaml", builtin(t, "matmul"))
	code, stdout, stderr := runHarness(t, append(small, "-spec", spec, "-backend", "cpu", "-out", dir, "-cache", "none", "-no-progress")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, line := range strings.Split(stdout, "\n") {
		if n := len([]rune(line)); n > 100 && !strings.HasPrefix(line, "note:") {
			t.Errorf("table line of %d columns (want ≤ 100): %s", n, line)
		}
	}
	jsons, _ := filepath.Glob(filepath.Join(dir, "results", "*", "matmul-*.json"))
	if len(jsons) != 1 {
		t.Fatalf("want one result file, got %v", jsons)
	}
	f, err := results.Load(jsons[0])
	if err != nil {
		t.Fatal(err)
	}
	p := f.Provenance
	if p.Device.Backend != "cpu" || f.Spec.Text != builtin(t, "matmul") || p.GoVersion == "" || p.Profile != "full" || len(p.Overrides) != 3 {
		t.Errorf("provenance incomplete: %+v", p)
	}
	if p.Host.MemoryBytes == 0 || p.Host.Kernel == "" || len(p.Host.LoadStart) != 3 || len(p.Host.LoadEnd) != 3 {
		t.Errorf("host environment incomplete: %+v", p.Host)
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
	if len(f.Failures) != 0 {
		t.Errorf("failures: %v", f.Failures)
	}
	stem := strings.TrimSuffix(jsons[0], ".json")
	for _, p := range []string{jsons[0], stem + ".md", stem + ".bench"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", p, fi.Mode().Perm())
		}
	}
	if md, _ := os.ReadFile(stem + ".md"); !strings.Contains(string(md), "copied/call") {
		t.Error("the Markdown table lacks the detail columns")
	}
	runStem := "matmul-" + f.Started.Format(results.TimeFormat)
	for _, fig := range []string{"matmul-latency", "matmul-rss", runStem + "-latency", runStem + "-rss"} {
		for _, ext := range []string{".png", ".svg"} {
			m, _ := filepath.Glob(filepath.Join(dir, "plots", "*", fig+ext))
			if len(m) != 1 {
				t.Errorf("figure %s%s missing", fig, ext)
			}
		}
	}
	var out, errs bytes.Buffer
	if code := compareMain([]string{jsons[0], jsons[0]}, &out, &errs); code != 0 {
		t.Errorf("compare of a file with itself exited %d: %s", code, errs.String())
	}
	out.Reset()
	if code := reportMain([]string{"-format", "csv", "-figures", t.TempDir(), jsons[0]}, &out, &errs); code != 0 || !strings.HasPrefix(out.String(), "group,variant,") {
		t.Errorf("report exited %d:\n%s%s", code, out.String(), errs.String())
	}
}

// TestRunFromAnyFolder: the specs are built in, and the overrides and
// output formats apply.
func TestRunFromAnyFolder(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, stdout, stderr := runHarness(t, "-exp", "matmul", "-quick", "-backend", "cpu", "-cache", "none", "-no-progress",
		"-set", "n=8,12", "-reps", "2", "-warmup", "1", "-format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var f results.File
	if err := json.Unmarshal([]byte(stdout), &f); err != nil {
		t.Fatalf("-format json printed no result file: %v\n%s", err, stdout)
	}
	if f.Spec.Path != "experiments/matmul.yaml" || len(f.Provenance.Overrides) != 3 || f.Provenance.Profile != "quick" {
		t.Errorf("spec %s, overrides %v, profile %s", f.Spec.Path, f.Provenance.Overrides, f.Provenance.Profile)
	}
	groups := map[string]bool{}
	for _, c := range f.Cases {
		groups[c.Group] = true
		if c.Group != "host-call" && len(c.Samples) != 2 {
			t.Errorf("%s: %d samples, want -reps 2", c.Name(), len(c.Samples))
		}
	}
	if len(groups) != 3 || !groups["n=8"] || !groups["n=12"] {
		t.Errorf("groups %v, want host-call, n=8 and n=12 (-set n=8,12)", groups)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "results", "*", "matmul-*.json")); len(m) != 1 {
		t.Errorf("results in the working folder: %v", m)
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	mm := writeFile(t, dir, "z.yaml", builtin(t, "matmul"))
	bad := writeFile(t, dir, "bad.yaml", strings.Replace(builtin(t, "matmul"), "repetitions: 25", "repetitions: -3", 1))
	readOnly := filepath.Join(dir, "ro")
	if err := os.WriteFile(readOnly, nil, 0o644); err != nil { // a file where -out wants a folder
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad spec value", []string{"-spec", bad}, 1, "bad.yaml:10:14: field \"repetitions\": must be ≥ 1"},
		{"missing spec", []string{"-spec", filepath.Join(dir, "nope.yaml")}, 1, "nope.yaml"},
		{"unknown experiment in a spec", []string{"-spec", writeFile(t, dir, "x.yaml", "experiment: sorting\n")}, 1, `unknown experiment "sorting" (known: matmul, llama, kv, tenants)`},
		{"unknown -exp", []string{"-exp", "bogus"}, 2, `unknown experiment "bogus" (known: kv, llama, matmul, tenants)`},
		{"no experiment field", []string{"-spec", writeFile(t, dir, "y.yaml", "seed: 1\n")}, 1, `missing field "experiment"`},
		{"unknown backend", []string{"-spec", mm, "-backend", "tpu"}, 1, `unknown backend "tpu"`},
		{"unknown mode", []string{"-spec", mm, "-mode", "warp"}, 2, `unknown memory mode "warp"`},
		{"mode the backend lacks", []string{"-spec", mm, "-mode", "mapped"}, 2, "the cpu backend has no mapped mode (it has zerocopy, copy)"},
		{"model for matmul", []string{"-spec", mm, "-model", dir}, 2, "-model: matmul loads no model"},
		{"unknown set key", []string{"-spec", mm, "-set", "prompt=4"}, 2, "-set prompt: matmul has no such key (it takes n)"},
		{"bad set value", []string{"-spec", mm, "-set", "n=x"}, 2, `"x" is not a whole number`},
		{"warmup for llama", []string{"-exp", "llama", "-warmup", "2"}, 2, "-warmup: llama's warm-up is its first repetition"},
		{"unknown format", []string{"-spec", mm, "-format", "xml"}, 2, "table, md, csv or json"},
		{"unwritable -out", []string{"-spec", mm, "-out", readOnly}, 1, "-out " + readOnly + ": cannot write results"},
		{"stray argument", []string{"matmul"}, 2, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-backend", "cpu", "-out", dir, "-cache", "none", "-no-progress"}, tc.args...)
			var out, errs syncBuffer
			code := runMain(args, &out, &errs)
			if code != tc.code || !strings.Contains(errs.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errs.String(), tc.code, tc.want)
			}
			time.Sleep(20 * time.Millisecond) // a stray interrupt message would come now
			if strings.Contains(errs.String(), "interrupted") {
				t.Errorf("a refused run says it was interrupted: %q", errs.String())
			}
		})
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "results", "*", "*.json")); len(m) != 0 {
		t.Errorf("a refused run wrote %v", m)
	}
}

// TestHelp: -h exits 0 and names the experiments and the commands.
func TestHelp(t *testing.T) {
	code, stdout, _ := runHarness(t, "-h")
	if code != 0 {
		t.Fatalf("-h exited %d", code)
	}
	for _, want := range []string{"matmul", "llama", "kv", "compare", "noise", "report", "generate", "-reps", "-set", "-format"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, stdout)
		}
	}
	for _, cmd := range []func([]string, *bytes.Buffer, *bytes.Buffer) int{
		func(a []string, o, e *bytes.Buffer) int { return compareMain(a, o, e) },
		func(a []string, o, e *bytes.Buffer) int { return noiseMain(a, o, e) },
		func(a []string, o, e *bytes.Buffer) int { return reportMain(a, o, e) },
		func(a []string, o, e *bytes.Buffer) int { return generateMain(a, o, e) },
	} {
		var o, e bytes.Buffer
		if code := cmd([]string{"-h"}, &o, &e); code != 0 || !strings.Contains(o.String(), "usage: harness") {
			t.Errorf("-h exited %d: %q", code, o.String())
		}
	}
}

// TestInterrupt sends a real SIGINT to a harness subprocess in the middle
// of a run: it must stop soon (its grace is a second), exit 130 and write
// nothing.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	dir := t.TempDir()
	// Rounds of two 1536-wide products: the signal lands in one.
	args, _ := json.Marshal([]string{"-exp", "matmul", "-set", "n=1024,1536", "-reps", "50", "-backend", "cpu", "-out", dir, "-cache", "none", "-no-progress"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HARNESS_TEST_ARGS="+string(args))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var log strings.Builder
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "host call:") {
			break // the run is measuring
		}
	}
	time.Sleep(300 * time.Millisecond)
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	go func() {
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
		}
	}()
	err = cmd.Wait()
	took := time.Since(sent)
	t.Logf("stopped %v after SIGINT", took.Round(time.Millisecond))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted {
		t.Fatalf("exit %v, want %d\n%s", err, exitInterrupted, log.String())
	}
	if took > 5*time.Second {
		t.Errorf("took %v to stop", took)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "results", "*", "*")); len(m) != 0 {
		t.Errorf("an interrupted run wrote %v", m)
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
	if text := strings.TrimSuffix(out.String(), "\n"); text == "" || strings.ContainsAny(text, "\n\x00\x07\x1b") {
		t.Errorf("synthetic output %q: want something visible, with no raw control bytes", out.String())
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

func TestTextOut(t *testing.T) {
	for _, tc := range []struct {
		tokens    []string
		keepLines bool
		want      string
	}{
		{[]string{"hi", " there\n"}, true, "hi there\n"},
		{[]string{"\n\n"}, false, `\n\n`},
		{[]string{"\x1b[2J", "\a"}, true, `\x1b[2J\a`},
		{[]string{"caf\xc3", "\xa9"}, true, "café"}, // é split across tokens
		{[]string{"\xff"}, true, `\xff`},
		{[]string{"\xe2\x82"}, true, `\xe2\x82`}, // a character cut off at the end
	} {
		var b strings.Builder
		w := &textOut{w: &b, keepLines: tc.keepLines}
		for _, s := range tc.tokens {
			w.Write([]byte(s))
		}
		w.Flush()
		if b.String() != tc.want {
			t.Errorf("%q: wrote %q, want %q", tc.tokens, b.String(), tc.want)
		}
	}
}

func TestCompareExitCodes(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, exp string, scale float64) string {
		f := &results.File{Schema: results.SchemaVersion, Experiment: exp, Spec: results.Spec{SHA256: exp}}
		f.Provenance.Device = results.DeviceInfo{Backend: "cpu", Name: "x"}
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
	base, slow, fast := mk("base.json", "matmul", 1), mk("slow.json", "matmul", 1.5), mk("fast.json", "matmul", 0.7)
	other := mk("llama.json", "llama", 1)
	noise := filepath.Join(dir, "noise.json")
	var o, e bytes.Buffer
	if code := noiseMain([]string{"-o", noise, base, base, base}, &o, &e); code != 0 {
		t.Fatalf("noise exited %d: %s", code, e.String())
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{base, slow}, 1},
		{[]string{"-threshold", "0.8", base, slow}, 0},
		{[]string{base, fast}, 0},
		{[]string{base, base, slow}, 1},
		{[]string{"-noise", noise, base, slow}, 1},
		{[]string{base, other}, 2},
		{[]string{"-force", base, other}, 0},
		{[]string{base}, 2},
		{[]string{base, filepath.Join(dir, "missing.json")}, 1},
		{[]string{"-threshold", "-1", base, slow}, 2},
		{[]string{"-noise", filepath.Join(dir, "missing.json"), base, slow}, 1},
	} {
		o.Reset()
		e.Reset()
		if got := compareMain(tc.args, &o, &e); got != tc.want {
			t.Errorf("compare %v exited %d, want %d\n%s%s", tc.args, got, tc.want, o.String(), e.String())
		}
	}
	if code := noiseMain([]string{"-o", noise, base, other, base}, &o, &e); code != 2 {
		t.Errorf("noise over two experiments exited %d, want 2", code)
	}
}
