package results

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// WriteBenchfmt writes f's timed samples in the Go benchmark format, one
// line per sample, so benchstat and other golang.org/x/perf tools can read
// result files:
//
//	goos: linux
//	goarch: amd64
//	cpu: AMD EPYC 9654 96-Core Processor
//	pkg: github.com/wasmgpu/wasmgpu/experiments/matmul
//	device: cuda NVIDIA H100 80GB HBM3
//	BenchmarkMatmul/n=256/variant=wasm-copy 1 123456 ns/op
//
// Samples in seconds (Unit "s", "ms", "us", "µs" or "ns") are written in
// ns/op; other units as "<unit>/op". Warm-up samples and non-finite samples
// are left out: they are not timings of the measured steady state.
func WriteBenchfmt(w io.Writer, f *File) error {
	bw := bufio.NewWriter(w)
	p := f.Provenance
	config := [][2]string{
		{"goos", p.OS},
		{"goarch", p.Arch},
		{"cpu", p.CPUModel},
		{"pkg", "github.com/wasmgpu/wasmgpu/experiments/" + Slug(f.Experiment)},
		{"device", strings.TrimSpace(p.Device.Backend + " " + p.Device.Name)},
		{"mode", p.Mode},
		{"commit", p.GitCommit},
	}
	for _, kv := range config {
		if v := oneLine(kv[1]); v != "" {
			fmt.Fprintf(bw, "%s: %s\n", kv[0], v)
		}
	}
	base := "Benchmark" + benchIdent(f.Experiment)
	for _, c := range f.Cases {
		name := base
		if c.Group != "" {
			name += "/" + benchPart(c.Group)
		}
		if c.Variant != "" {
			name += "/variant=" + benchPart(c.Variant)
		}
		scale, unit := benchUnit(c.UnitOrDefault())
		for _, x := range c.Samples {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				continue
			}
			fmt.Fprintf(bw, "%s 1 %s %s\n", name, strconv.FormatFloat(x*scale, 'g', -1, 64), unit)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("results: write benchmark format: %w", err)
	}
	return nil
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

// benchIdent makes an experiment name into a benchmark base name: letters
// and digits only, first letter upper case ("kv-snapshot" → "KvSnapshot").
func benchIdent(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "Experiment"
	}
	return b.String()
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
