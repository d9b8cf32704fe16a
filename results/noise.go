package results

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/wasmgpu/wasmgpu/internal/stats"
)

// Noise is a run-to-run noise calibration: for each case of an
// experiment, how far apart two runs of the same code on the same machine
// land. A single run cannot see this noise (its repetitions share the
// run's memory placement, clocks and neighbours), so compare takes it from
// here to judge a difference between two runs. Calibrate makes one from
// several runs of one commit; scripts/aa-study.sh makes and tests one.
type Noise struct {
	Schema     int    `json:"schema"` // 1
	Experiment string `json:"experiment"`
	Profile    string `json:"profile"`
	Machine    string `json:"machine"` // the runs' Machine()
	Hostname   string `json:"hostname"`
	SpecSHA256 string `json:"spec_sha256"`
	Commit     string `json:"commit"`
	Runs       int    `json:"runs"`
	Method     string `json:"method"`
	// Cases maps a case's Name() to its noise.
	Cases map[string]CaseNoise `json:"cases"`
}

// CaseNoise is one case's calibrated noise (stats.RunNoise).
type CaseNoise struct {
	Runs     int     `json:"runs"`      // runs that had the case
	SigmaLog float64 `json:"sigma_log"` // standard deviation of the log run medians
	Band     float64 `json:"band"`      // relative difference two runs stay within
}

// GeomeanCase is the name under which a calibration keeps the noise of the
// geometric mean of a run's case medians: compare's test for a slowdown of
// every case at once.
const GeomeanCase = "geomean"

// NoiseMethod says how Calibrate computes a band, for the file.
const NoiseMethod = "per case: each run's fastest repetition median (stats.Fastest), busy runs left out; band = exp(t·√2·σ⁺) − 1, t the Student-t quantile (k−1 degrees of freedom) at 0.999, σ⁺ the 90% upper confidence bound of the standard deviation of their logarithms (stats.RunNoise)"

// Calibrate computes the run-to-run noise of files, k ≥ 3 runs of one
// experiment, spec, profile and machine: per case, of the statistic compare
// judges (the fastest repetition median), and of their geometric mean.
// Busy cases (measured while other processes used the CPU) are left out; a
// case with fewer than 3 quiet runs gets no band.
func Calibrate(files []*File) (*Noise, error) {
	if len(files) < 3 {
		return nil, fmt.Errorf("results: calibrate: need at least 3 runs, got %d", len(files))
	}
	f0 := files[0]
	n := &Noise{Schema: 1, Experiment: f0.Experiment, Profile: f0.Provenance.Profile, Machine: f0.Machine(),
		Hostname: f0.Provenance.Hostname, SpecSHA256: f0.Spec.SHA256, Commit: f0.Provenance.GitCommit,
		Runs: len(files), Method: NoiseMethod, Cases: map[string]CaseNoise{}}
	medians := map[string][]float64{}
	var order []string
	for i, f := range files {
		if d := Differences(f0, f); len(d) > 0 {
			return nil, fmt.Errorf("results: calibrate: run %d differs from run 1: %s", i+1, strings.Join(d, "; "))
		}
		for _, c := range f.Cases {
			name := c.Name()
			if _, ok := medians[name]; !ok {
				order = append(order, name)
				medians[name] = make([]float64, len(files))
			}
			medians[name][i] = stats.Fastest(c.RepMedians())
			if c.Busy() {
				medians[name][i] = math.NaN() // not the code's own time
			}
		}
	}
	// The geometric mean, per run, over the cases every run has quiet.
	var quiet []string
	for _, name := range order {
		if !slices.ContainsFunc(medians[name], func(x float64) bool { return !(x > 0) }) {
			quiet = append(quiet, name)
		}
	}
	for i := range files {
		sum := 0.0
		for _, name := range quiet {
			sum += math.Log(medians[name][i])
		}
		if len(quiet) > 0 {
			medians[GeomeanCase] = append(medians[GeomeanCase], math.Exp(sum/float64(len(quiet))))
		}
	}
	order = append(order, GeomeanCase)
	for _, name := range order {
		ms := slices.DeleteFunc(slices.Clone(medians[name]), func(x float64) bool { return !(x > 0) })
		sigma, band := stats.RunNoise(ms)
		if math.IsNaN(band) {
			continue
		}
		n.Cases[name] = CaseNoise{Runs: len(ms), SigmaLog: sigma, Band: band}
	}
	return n, nil
}

// Differences lists what makes a and b different experiments in effect:
// experiment, spec, profile, overrides, backend, device. compare refuses
// such files unless told to.
func Differences(a, b *File) []string {
	var out []string
	add := func(what, x, y string) {
		if x != y {
			out = append(out, fmt.Sprintf("%s %q ≠ %q", what, x, y))
		}
	}
	add("experiment", a.Experiment, b.Experiment)
	if a.Spec.SHA256 != b.Spec.SHA256 {
		out = append(out, fmt.Sprintf("spec %s (sha256 %.12s) ≠ %s (sha256 %.12s)", a.Spec.Path, a.Spec.SHA256, b.Spec.Path, b.Spec.SHA256))
	}
	add("profile", a.Provenance.Profile, b.Provenance.Profile)
	add("overrides", strings.Join(a.Provenance.Overrides, " "), strings.Join(b.Provenance.Overrides, " "))
	add("backend", a.Provenance.Device.Backend, b.Provenance.Device.Backend)
	add("device", a.Provenance.Device.Name, b.Provenance.Device.Name)
	return out
}

// MachineDifferences lists how the machines of a and b differ (host name,
// CPU, cores, OS, Go, and Host.Diff), for a warning: the same experiment on
// another machine is comparable, with care.
func MachineDifferences(a, b *File) []string {
	pa, pb := a.Provenance, b.Provenance
	var out []string
	add := func(what, x, y string) {
		if x != y {
			out = append(out, fmt.Sprintf("%s: %s ≠ %s", what, x, y))
		}
	}
	add("hostname", pa.Hostname, pb.Hostname)
	add("cpu", pa.CPUModel, pb.CPUModel)
	add("cores", fmt.Sprint(pa.CPUCores), fmt.Sprint(pb.CPUCores))
	add("os/arch", pa.OS+"/"+pa.Arch, pb.OS+"/"+pb.Arch)
	add("go", pa.GoVersion, pb.GoVersion)
	add("driver", pa.Device.Driver, pb.Device.Driver)
	return append(out, pa.Host.Diff(pb.Host)...)
}

// WriteAtomic writes n as indented JSON to path (atomically, 0644).
func (n *Noise) WriteAtomic(path string) error {
	data, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return fmt.Errorf("results: encode %s: %w", path, err)
	}
	return WriteFile(path, append(data, '\n'))
}

// LoadNoise reads a calibration written by WriteAtomic, strictly.
func LoadNoise(path string) (*Noise, error) {
	var n Noise
	if err := decodeFile(path, &n); err != nil {
		return nil, err
	}
	if n.Schema != 1 {
		return nil, fmt.Errorf("results: noise calibration %s: schema %d not supported (want 1)", path, n.Schema)
	}
	for _, name := range sortedKeys(n.Cases) {
		if b := n.Cases[name].Band; !(b >= 0) {
			return nil, fmt.Errorf("results: noise calibration %s: case %s: band %v must be ≥ 0", path, name, b)
		}
	}
	return &n, nil
}
