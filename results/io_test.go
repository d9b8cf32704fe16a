package results

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleFile() *File {
	t0 := time.Date(2026, 4, 2, 15, 4, 5, 0, time.UTC)
	return &File{
		Schema:     SchemaVersion,
		Experiment: "matmul",
		Spec:       Spec{Path: "experiments/matmul.yaml", SHA256: "abc", Text: "sizes: [128]\n"},
		Provenance: Provenance{GitCommit: "deadbeef", GoVersion: "go1.26", OS: "linux", Arch: "amd64",
			CPUModel: "Test CPU", CPUCores: 2, Device: DeviceInfo{Backend: "cpu", Name: "Test CPU"}, Mode: "copy"},
		Started:  t0,
		Finished: t0.Add(time.Minute),
		Cases: []Case{
			Case{Group: "n=128", Params: map[string]float64{"n": 128}, Variant: "wasm-copy",
				Warmup: []float64{0.5}, Samples: []float64{0.001, 0.002, 0.0015},
				Metrics: map[string]float64{"max_rel_err": math.NaN(), "gflops": 1.5}}.Summarize(),
			Case{Group: "n=128", Variant: "native", Samples: []float64{math.Inf(1), 0.001}}.Summarize(),
		},
	}
}

func TestWriteLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "f.json")
	f := sampleFile()
	if err := f.WriteAtomic(path); err != nil {
		t.Fatal(err)
	}
	// Overwrite: must replace, and leave no temporary files behind.
	if err := f.WriteAtomic(path); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the result file", len(entries))
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Started.Equal(f.Started) || g.Experiment != "matmul" || g.Provenance.Device.Backend != "cpu" {
		t.Errorf("round trip changed header: %+v", g)
	}
	c := g.Cases[0]
	if !math.IsNaN(c.Metrics["max_rel_err"]) || c.Metrics["gflops"] != 1.5 || c.Params["n"] != 128 {
		t.Errorf("metrics/params not preserved: %v %v", c.Metrics, c.Params)
	}
	if len(c.Samples) != 3 || c.Samples[1] != 0.002 || c.Warmup[0] != 0.5 || c.Summary.Median != 0.0015 {
		t.Errorf("samples not preserved: %+v", c)
	}
	if c2 := g.Cases[1]; !math.IsInf(c2.Samples[0], 1) || c2.Summary.NonFinite != 1 || !math.IsInf(c2.Summary.CIHi, 1) {
		t.Errorf("non-finite values not preserved: %+v", c2)
	}
}

func TestLoadErrorsNameFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, tc := range map[string]struct{ path, want string }{
		"missing":  {filepath.Join(dir, "nope.json"), "nope.json"},
		"bad json": {write("bad.json", "{"), "bad.json"},
		"unknown":  {write("unk.json", `{"schema":1,"bogus":2}`), `unknown field "bogus"`},
		"schema":   {write("new.json", `{"schema":9}`), "schema 9"},
		"trailing": {write("two.json", `{"schema":1} {}`), "trailing"},
	} {
		_, err := Load(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Base(tc.path)) {
			t.Errorf("%s: err = %v, want mention of %q and the file", name, err, tc.want)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	tm := time.Date(2026, 11, 2, 15, 4, 5, 0, time.FixedZone("X", 3600))
	got := DefaultPath("/r", "cuda-NVIDIA H100 80GB HBM3", "matmul", tm)
	want := filepath.Join("/r", "results", "cuda-nvidia-h100-80gb-hbm3", "matmul-20261102T140405Z.json")
	if got != want {
		t.Errorf("DefaultPath = %q, want %q", got, want)
	}
	for in, want := range map[string]string{
		"metal-Apple M1 Pro": "metal-apple-m1-pro",
		"../etc/passwd":      "etc-passwd",
		"  ":                 "unknown",
		"cpu-AMD EPYC™ 9654": "cpu-amd-epyc-9654",
		"a__b.c":             "a__b.c",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseCPUInfo(t *testing.T) {
	x86 := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654 96-Core Processor\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 9654 96-Core Processor\n"
	if got := parseCPUInfo([]byte(x86)); got != "AMD EPYC 9654 96-Core Processor" {
		t.Errorf("x86: %q", got)
	}
	arm := "processor\t: 0\nBogoMIPS\t: 50.00\nCPU part\t: 0xd0c\n"
	if got := parseCPUInfo([]byte(arm)); got != "0xd0c" {
		t.Errorf("arm: %q", got)
	}
	if got := parseCPUInfo(nil); got != "" {
		t.Errorf("empty: %q", got)
	}
}

func TestCollectProvenance(t *testing.T) {
	p := CollectProvenance()
	if p.GoVersion == "" || p.OS == "" || p.Arch == "" || p.CPUCores < 1 {
		t.Errorf("missing host facts: %+v", p)
	}
}
