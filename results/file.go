package results

import (
	"time"

	"github.com/wasmgpu/wasmgpu/internal/stats"
)

// SchemaVersion is the version of the File format written by this package.
// Load reads every version from 1 to SchemaVersion and rejects newer ones.
//
// Version 2 added Case.Reps (which repetition each sample belongs to),
// File.Failures (correctness failures as data, not notes),
// Provenance.Host, Profile, Overrides and Numbers, and writes non-finite
// numbers as null instead of the strings "NaN", "+Inf" and "-Inf".
const SchemaVersion = 2

// File is one experiment run: what was run, where, and what was measured.
type File struct {
	Schema     int        `json:"schema"`     // SchemaVersion
	Experiment string     `json:"experiment"` // "matmul", "llama", "kv", …
	Spec       Spec       `json:"spec"`
	Provenance Provenance `json:"provenance"`
	Started    time.Time  `json:"started"`
	Finished   time.Time  `json:"finished"`
	Cases      []Case     `json:"cases"`
	// Failures are the correctness checks that failed: a result that is
	// fast but wrong is not a result. Empty when every check passed.
	Failures []Failure `json:"failures,omitempty"`
	Notes    []string  `json:"notes,omitempty"` // free-form remarks of the run, e.g. skipped cases and why
}

// Failure is one failed correctness check.
type Failure struct {
	Case   string `json:"case"`   // the case's Name(), or the group the check covers
	Check  string `json:"check"`  // what was checked, e.g. "max_rel_err", "tokens", "continuation"
	Detail string `json:"detail"` // what was seen against what was expected
}

// String is "case: check: detail", how logs and tables show a failure.
func (f Failure) String() string { return f.Case + ": " + f.Check + ": " + f.Detail }

// Spec is the experiment specification a run was made from, kept whole so a
// result can be reproduced without the repository at that commit.
type Spec struct {
	Path   string `json:"path"`   // as given on the command line, e.g. "experiments/matmul.yaml"
	SHA256 string `json:"sha256"` // hex SHA-256 of Text
	Text   string `json:"text"`   // the whole YAML
}

// Provenance records where and how a run was made. CollectProvenance fills
// the host fields; the caller fills Device, Mode, Weights, DTypes and Args.
type Provenance struct {
	GitCommit string            `json:"git_commit"`        // HEAD, "" outside a git checkout
	GitDirty  bool              `json:"git_dirty"`         // uncommitted changes in the work tree
	GoVersion string            `json:"go_version"`        // runtime.Version()
	OS        string            `json:"os"`                // runtime.GOOS
	Arch      string            `json:"arch"`              // runtime.GOARCH
	CPUModel  string            `json:"cpu_model"`         // e.g. "AMD EPYC 9654 96-Core Processor"
	CPUCores  int               `json:"cpu_cores"`         // runtime.NumCPU()
	Hostname  string            `json:"hostname"`          // os.Hostname()
	Host      Host              `json:"host"`              // kernel, CPU features, memory, load
	Device    DeviceInfo        `json:"device"`            // filled by the caller
	Mode      string            `json:"mode,omitempty"`    // memory mode(s) used, e.g. "copy,zerocopy"
	Weights   string            `json:"weights,omitempty"` // "sha256:<hex>", "synthetic:<seed>" or ""
	DTypes    map[string]string `json:"dtypes,omitempty"`  // e.g. {"weights": "f16", "kv": "f32"}
	Profile   string            `json:"profile,omitempty"` // "full" or "quick"
	// Overrides are the command-line changes to the spec (-reps, -warmup,
	// -set), as given; a run with overrides is not the spec's run.
	Overrides []string           `json:"overrides,omitempty"`
	Args      []string           `json:"args,omitempty"`    // command line (os.Args)
	Numbers   map[string]float64 `json:"numbers,omitempty"` // measured facts of the run, e.g. peak_rss_bytes
	Extra     map[string]string  `json:"extra,omitempty"`   // anything else worth recording, as text
}

// SetNumber records a numeric fact of the run in p.Numbers.
func (p *Provenance) SetNumber(key string, v float64) {
	if p.Numbers == nil {
		p.Numbers = map[string]float64{}
	}
	p.Numbers[key] = v
}

// SetExtra records a textual fact of the run in p.Extra.
func (p *Provenance) SetExtra(key, v string) {
	if p.Extra == nil {
		p.Extra = map[string]string{}
	}
	p.Extra[key] = v
}

// DeviceInfo describes the device a run used. It has the same fields as
// runtime/device.Info, so a caller converts with results.DeviceInfo(info)
// without this package depending on the runtime.
type DeviceInfo struct {
	Backend string            `json:"backend"`          // "cpu", "cuda", "metal"
	Name    string            `json:"name"`             // CPU model or GPU name
	Driver  string            `json:"driver,omitempty"` // driver or OS version
	Props   map[string]string `json:"props,omitempty"`  // backend facts: memory, bus, …
}

// MetricOthersCPU is the metric, in cores, of how much CPU other processes
// used on average while a case's timed repetitions ran (internal/cpuload;
// NaN where it cannot be known). compare warns about cases measured on a
// busy machine.
const MetricOthersCPU = "others_cpu_cores"

// BusyCores is how much CPU, in cores, other processes may use on average
// while a case is measured before the case counts as busy.
const BusyCores = 0.25

// Busy reports whether c was measured while other processes used more than
// BusyCores (MetricOthersCPU): its times include their load, so compare
// does not judge it and Calibrate leaves it out.
func (c Case) Busy() bool {
	return c.Metrics[MetricOthersCPU] > BusyCores
}

// DefaultUnit is the unit of Case samples when Case.Unit is empty.
const DefaultUnit = "s"

// Case is one measured configuration: one point on a figure's x axis for one
// variant.
//
// Warmup, Samples and Metrics may hold NaN or ±Inf (a failed measurement is
// a result too); they are written to JSON as null, and a note of the file
// says which values were not finite.
type Case struct {
	Group   string             `json:"group"`            // x-axis group, e.g. "n=256" or "ctx=1024"
	Params  map[string]float64 `json:"params,omitempty"` // numeric parameters, e.g. {"n": 256}
	Variant string             `json:"variant"`          // "native", "wasm-copy", "wasm-zerocopy", …
	Unit    string             `json:"unit,omitempty"`   // unit of samples; "" means DefaultUnit (seconds)
	Warmup  []float64          `json:"warmup,omitempty"` // warm-up samples, reported apart
	Samples []float64          `json:"samples"`          // timed samples, raw, in run order
	// Reps holds, for each sample, the repetition it belongs to (0 is the
	// first timed repetition); several samples of one repetition (the
	// tokens of one decode) are not independent. Empty means each sample
	// is a repetition of its own. See RepMedians.
	Reps    []int              `json:"reps,omitempty"`
	Summary stats.Summary      `json:"summary"`           // stats.Summarize(Samples)
	Metrics map[string]float64 `json:"metrics,omitempty"` // gflops, max_rel_err, rss_delta_bytes, …
	Labels  map[string]string  `json:"labels,omitempty"`  // non-numeric facts, e.g. an identity proof
}

// UnitOrDefault returns c.Unit, or DefaultUnit when it is empty.
func (c Case) UnitOrDefault() string {
	if c.Unit == "" {
		return DefaultUnit
	}
	return c.Unit
}

// Summarize sets c.Summary from c.Samples and returns c, so a driver can
// write f.Cases = append(f.Cases, c.Summarize()).
func (c Case) Summarize() Case {
	c.Summary = stats.Summarize(c.Samples)
	return c
}

// RepMedians returns the median of each repetition's samples, in
// repetition order: the unit of replication compare tests. A case without
// Reps (or with Reps of the wrong length) has one repetition per sample.
func (c Case) RepMedians() []float64 {
	if len(c.Reps) != len(c.Samples) || len(c.Reps) == 0 {
		return append([]float64(nil), c.Samples...)
	}
	var order []int
	groups := map[int][]float64{}
	for i, r := range c.Reps {
		if _, ok := groups[r]; !ok {
			order = append(order, r)
		}
		groups[r] = append(groups[r], c.Samples[i])
	}
	out := make([]float64, 0, len(order))
	for _, r := range order {
		out = append(out, stats.Summarize(groups[r]).Median)
	}
	return out
}

// Name returns "<group>/<variant>", how tables and logs name a case.
func (c Case) Name() string {
	switch {
	case c.Group == "":
		return c.Variant
	case c.Variant == "":
		return c.Group
	}
	return c.Group + "/" + c.Variant
}

// Find returns the first case with the given group and variant.
func (f *File) Find(group, variant string) (Case, bool) {
	for _, c := range f.Cases {
		if c.Group == group && c.Variant == variant {
			return c, true
		}
	}
	return Case{}, false
}

// Machine is "<backend>-<device name>", the folder results/ and plots/
// keep a run under (made file-safe by Slug).
func (f *File) Machine() string {
	return f.Provenance.Device.Backend + "-" + f.Provenance.Device.Name
}
