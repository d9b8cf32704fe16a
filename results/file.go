package results

import (
	"time"

	"github.com/wasmgpu/wasmgpu/internal/stats"
)

// SchemaVersion is the version of the File format written by this package.
// Load rejects files with a newer schema.
const SchemaVersion = 1

// File is one experiment run: what was run, where, and what was measured.
type File struct {
	Schema     int        `json:"schema"`     // SchemaVersion
	Experiment string     `json:"experiment"` // "matmul", "llama", "kv", …
	Spec       Spec       `json:"spec"`
	Provenance Provenance `json:"provenance"`
	Started    time.Time  `json:"started"`
	Finished   time.Time  `json:"finished"`
	Cases      []Case     `json:"cases"`
	Notes      []string   `json:"notes,omitempty"` // free-form remarks of the run, e.g. skipped cases and why
}

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
	Device    DeviceInfo        `json:"device"`            // filled by the caller
	Mode      string            `json:"mode,omitempty"`    // memory mode(s) used, e.g. "copy,zerocopy"
	Weights   string            `json:"weights,omitempty"` // "sha256:<hex>", "synthetic:<seed>" or ""
	DTypes    map[string]string `json:"dtypes,omitempty"`  // e.g. {"weights": "f16", "kv": "f32"}
	Args      []string          `json:"args,omitempty"`    // command line (os.Args)
	Extra     map[string]string `json:"extra,omitempty"`   // anything else worth recording
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

// DefaultUnit is the unit of Case samples when Case.Unit is empty.
const DefaultUnit = "s"

// Case is one measured configuration: one point on a figure's x axis for one
// variant.
//
// Warmup, Samples and Metrics may hold NaN or ±Inf (a failed measurement is
// a result too); they are written to JSON as the strings "NaN", "+Inf",
// "-Inf" and read back exactly.
type Case struct {
	Group   string             `json:"group"`             // x-axis group, e.g. "n=256" or "ctx=1024"
	Params  map[string]float64 `json:"params,omitempty"`  // numeric parameters, e.g. {"n": 256}
	Variant string             `json:"variant"`           // "native", "wasm-copy", "wasm-zerocopy", …
	Unit    string             `json:"unit,omitempty"`    // unit of samples; "" means DefaultUnit (seconds)
	Warmup  []float64          `json:"warmup,omitempty"`  // warm-up samples, reported apart
	Samples []float64          `json:"samples"`           // timed samples, raw, in run order
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
