package results

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode"

	"golang.org/x/perf/benchfmt"
)

// WriteBenchfmt writes f in the Go benchmark format with x/perf's
// benchfmt.Writer, one line per timed repetition (the median of its
// samples: the tokens of one decode are not independent samples), so that
// benchstat and the other x/perf tools read result files:
//
//	# wasmgpu: exp=matmul commit=0123abcd… dirty=false started=2026-11-25T23:42:22Z profile=full
//	goos: linux
//	goarch: amd64
//	cpu: AMD EPYC 9654 96-Core Processor
//	pkg: github.com/wasmgpu/wasmgpu/experiments/matmul
//	device: cpu AMD EPYC 9654 96-Core Processor
//	BenchmarkWasmgpu/exp=matmul/case=n=256/phase=call/variant=wasm/mode=copy 1 1234567 ns/op
//
// Names are key=value parts (exp, case, phase, variant, mode: see
// BenchKeys), so `benchstat -col /variant` puts wasm beside native and
// `-col /mode` the memory modes side by side. The commit is on the leading
// comment line, not a configuration line: benchstat splits files whose
// configuration differs into separate tables, and comparing two commits is
// what the format is for. Samples in seconds (Unit "s", "ms", "us", "µs" or
// "ns") are written in ns/op, other units as "<unit>/op". Warm-up samples
// and non-finite repetitions are left out.
func WriteBenchfmt(w io.Writer, f *File) error {
	bw := bufio.NewWriter(w)
	p := f.Provenance
	fmt.Fprintf(bw, "# wasmgpu: exp=%s commit=%s dirty=%v started=%s profile=%s\n",
		oneLine(f.Experiment), orNone(p.GitCommit), p.GitDirty, f.Started.UTC().Format(time.RFC3339), orNone(p.Profile))
	var config []benchfmt.Config
	for _, kv := range [][2]string{
		{"goos", p.OS},
		{"goarch", p.Arch},
		{"cpu", p.CPUModel},
		{"pkg", "github.com/wasmgpu/wasmgpu/experiments/" + Slug(f.Experiment)},
		{"device", strings.TrimSpace(p.Device.Backend + " " + p.Device.Name)},
	} {
		if v := oneLine(kv[1]); v != "" {
			config = append(config, benchfmt.Config{Key: kv[0], Value: []byte(v), File: true})
		}
	}
	out := benchfmt.NewWriter(bw)
	for _, c := range f.Cases {
		name := "Wasmgpu"
		for _, kv := range BenchKeys(f.Experiment, c) {
			name += "/" + kv[0] + "=" + benchPart(kv[1])
		}
		scale, unit := benchUnit(c.UnitOrDefault())
		for _, x := range c.RepMedians() {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				continue
			}
			r := &benchfmt.Result{Config: config, Name: benchfmt.Name(name), Iters: 1,
				Values: []benchfmt.Value{{Value: x * scale, Unit: unit}}}
			if err := out.Write(r); err != nil {
				return fmt.Errorf("results: write benchmark format: %w", err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("results: write benchmark format: %w", err)
	}
	return nil
}

// BenchKeys names a case as key=value pairs: exp, case (the group without
// the phase), phase (what was timed: "call" for matmul, "decode" and
// "prefill" for llama, the operation for kv), variant ("native" or "wasm")
// and mode (the memory mode). A driver can set Labels["phase"],
// Labels["session"] ("wasm-zerocopy") and Labels["op"] explicitly; else
// phase is the group's first word when the group has two, and variant and
// mode split the Variant at its first '-'.
func BenchKeys(exp string, c Case) [][2]string {
	group := c.Group
	phase := c.Labels["phase"]
	if phase == "" {
		phase = c.Labels["op"]
	}
	if first, rest, ok := strings.Cut(group, " "); ok && (phase == "" || phase == first) {
		phase, group = first, rest
	}
	session := c.Labels["session"]
	if session == "" {
		session = strings.TrimPrefix(c.Variant, phase+" ")
	}
	if phase == "" {
		phase = map[string]string{"llama": "decode", "matmul": "call"}[exp]
	}
	variant, mode, _ := strings.Cut(session, "-")
	keys := [][2]string{{"exp", exp}, {"case", group}}
	for _, kv := range [][2]string{{"phase", phase}, {"variant", variant}, {"mode", mode}} {
		if kv[1] != "" {
			keys = append(keys, kv)
		}
	}
	return keys
}

// benchUnit maps a sample unit to a scale factor and a benchfmt unit.
func benchUnit(u string) (float64, string) {
	switch u {
	case "s":
		return 1e9, "ns/op"
	case "ms":
		return 1e6, "ns/op"
	case "us", "µs":
		return 1e3, "ns/op"
	case "ns":
		return 1, "ns/op"
	}
	return 1, benchPart(u) + "/op"
}

// benchPart makes s safe as one '/'-separated part of a benchmark name:
// no white space (which ends the name) and no '/' (which splits it).
func benchPart(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '/' {
			return '_'
		}
		return r
	}, s)
}

// oneLine keeps a configuration value on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
