package results

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	// Non-finite values are null in the JSON and NaN when read back; the
	// summary is recomputed from the samples, so an unbounded interval is
	// ±Inf again.
	if c2 := g.Cases[1]; !math.IsNaN(c2.Samples[0]) || c2.Summary.NonFinite != 1 || !math.IsInf(c2.Summary.CIHi, 1) {
		t.Errorf("non-finite values not read back: %+v", c2)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), `"NaN"`) || strings.Contains(string(raw), `Inf"`) {
		t.Errorf("non-finite value written as a string:\n%s", raw)
	}
	var notes []string
	for _, n := range g.Notes {
		if strings.Contains(n, "null in the JSON") {
			notes = append(notes, n)
		}
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "metric max_rel_err (NaN)") || !strings.Contains(notes[1], "n=128/native: null in the JSON") {
		t.Errorf("notes about the null values: %q", notes)
	}
	if len(f.Notes) != 0 {
		t.Error("WriteAtomic changed the file's notes")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
}

// TestLoadCommitted reads every committed result file (schema 1 and 2): the
// new reader must keep reading the old files.
func TestLoadCommitted(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("*", "*.json"))
	more, _ := filepath.Glob(filepath.Join("*", "reference", "*.json"))
	paths = slices.DeleteFunc(append(paths, more...), func(p string) bool { return strings.Contains(p, "reference") })
	if len(paths) == 0 {
		t.Skip("no committed result files")
	}
	for _, p := range paths {
		f, err := Load(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if len(f.Cases) == 0 || f.Provenance.Device.Backend == "" {
			t.Errorf("%s: %d cases, backend %q", p, len(f.Cases), f.Provenance.Device.Backend)
		}
		for _, n := range f.Notes {
			if strings.HasPrefix(n, "INCORRECT") {
				t.Errorf("%s: a correctness note not upgraded to a failure: %s", p, n)
			}
		}
		for k, v := range f.Provenance.Extra {
			if _, err := strconv.ParseFloat(v, 64); err == nil {
				t.Errorf("%s: numeric provenance %s = %q kept as text", p, k, v)
			}
		}
	}
}

func TestUpgradeV1(t *testing.T) {
	dir := t.TempDir()
	v1 := `{"schema":1,"experiment":"llama","spec":{"path":"","sha256":"","text":""},
"provenance":{"git_commit":"","git_dirty":false,"go_version":"","os":"","arch":"","cpu_model":"","cpu_cores":2,"hostname":"",
 "device":{"backend":"cpu","name":"x"},"extra":{"profile":"quick","peak_rss_bytes":"4100000000","model":"tiny"}},
"started":"2026-01-01T00:00:00Z","finished":"2026-01-01T00:00:00Z",
"cases":[{"group":"prompt=24","params":{"decode_tokens":2},"variant":"wasm-zerocopy","samples":[1,2,3,"NaN"],
 "summary":{"n":0,"min":"NaN","max":"+Inf","mean":0,"sd":0,"median":0,"p90":0,"p99":0,"ci_lo":"-Inf","ci_hi":"+Inf","ci_level":0}}],
"notes":["INCORRECT: prompt=24 wasm-zerocopy repetition 1 generated [1 2]","fine"]}`
	p := filepath.Join(dir, "v1.json")
	if err := os.WriteFile(p, []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Cases[0]
	if !slices.Equal(c.Reps, []int{0, 0, 1, 1}) || c.Summary.N != 3 || !math.IsNaN(c.Samples[3]) {
		t.Errorf("case %+v", c)
	}
	if got := c.RepMedians(); len(got) != 2 || got[0] != 1.5 || got[1] != 3 {
		t.Errorf("repetition medians %v, want [1.5 3] (NaN left out)", got)
	}
	if len(f.Failures) != 1 || !strings.Contains(f.Failures[0].Detail, "repetition 1") || len(f.Notes) != 1 {
		t.Errorf("failures %v, notes %v", f.Failures, f.Notes)
	}
	p2 := f.Provenance
	if p2.Profile != "quick" || p2.Numbers["peak_rss_bytes"] != 4.1e9 || p2.Extra["model"] != "tiny" || len(p2.Extra) != 1 {
		t.Errorf("provenance %+v", p2)
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
		"reps":     {write("reps.json", `{"schema":2,"cases":[{"group":"g","variant":"v","samples":[1,2],"reps":[0]}]}`), "1 reps for 2 samples"},
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

// TestCalibrate: the band of each case from k runs; busy cases left out;
// runs of different experiments refused.
func TestCalibrate(t *testing.T) {
	mk := func(x float64, busy bool) *File {
		f := sampleFile()
		f.Cases = []Case{
			{Group: "g", Variant: "a", Samples: []float64{x, 2 * x}},
			{Group: "g", Variant: "b", Samples: []float64{3}},
		}
		if busy {
			f.Cases[0].Metrics = map[string]float64{MetricOthersCPU: 1}
		}
		return f
	}
	files := []*File{mk(1, false), mk(1.01, false), mk(0.99, false), mk(1.005, false), mk(0.995, false), mk(1, false), mk(5, true)}
	n, err := Calibrate(files)
	if err != nil {
		t.Fatal(err)
	}
	a, b := n.Cases["g/a"], n.Cases["g/b"]
	if a.Runs != 6 || !(a.Band > 0 && a.Band < 0.2) || b.Runs != 7 || b.Band != 0 || n.Runs != 7 {
		t.Errorf("calibration %+v", n.Cases)
	}
	if g, ok := n.Cases[GeomeanCase]; !ok || g.Runs != 7 {
		t.Errorf("geomean %+v (over the cases quiet in every run: g/b)", g)
	}
	other := mk(1, false)
	other.Experiment = "llama"
	if _, err := Calibrate(append(files, other)); err == nil || !strings.Contains(err.Error(), "experiment") {
		t.Errorf("mixed experiments: %v", err)
	}
	if _, err := Calibrate(files[:2]); err == nil {
		t.Error("two runs calibrated")
	}
	p := filepath.Join(t.TempDir(), "n.json")
	if err := n.WriteAtomic(p); err != nil {
		t.Fatal(err)
	}
	back, err := LoadNoise(p)
	if err != nil || back.Cases["g/a"] != a {
		t.Errorf("round trip %+v, %v", back, err)
	}
}
