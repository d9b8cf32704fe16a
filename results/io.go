package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wasmgpu/wasmgpu/internal/atomicfile"
)

// TimeFormat is the UTC timestamp layout used in result file names.
const TimeFormat = "20060102T150405Z"

// Encode returns f as indented JSON. Non-finite numbers are written as null
// (JSON numbers cannot hold them), and a note names each value written so,
// so the reason travels with the file.
func (f *File) Encode() ([]byte, error) {
	g := *f
	g.Notes = append(slices.Clone(f.Notes), nonFiniteNotes(f)...)
	data, err := json.MarshalIndent(&g, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("results: encode: %w", err)
	}
	return append(data, '\n'), nil
}

// WriteAtomic writes f as indented JSON to path so that path holds either
// its old contents or the complete new file, never a partial one
// (internal/atomicfile), mode 0644. Missing parent directories are created.
func (f *File) WriteAtomic(path string) error {
	data, err := f.Encode()
	if err != nil {
		return fmt.Errorf("results: %s: %w", path, err)
	}
	return WriteFile(path, data)
}

// WriteFile writes data to path atomically, mode 0644, creating missing
// parent directories: how every output of a run (JSON, Markdown, .bench,
// figures) is written.
func WriteFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return nil
}

// WriteTo is WriteFile of what src writes (a figure's canvas).
func WriteTo(path string, src io.WriterTo) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := atomicfile.WriteTo(path, 0o644, src); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return nil
}

// nonFiniteNotes says which values of f are NaN or ±Inf and so are null in
// the JSON. Summaries are left out: their warnings say why a statistic is
// missing (too few samples for an interval, no samples).
func nonFiniteNotes(f *File) []string {
	var notes []string
	for _, c := range f.Cases {
		var what []string
		count := func(field string, xs []float64) {
			bad := 0
			for _, x := range xs {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					bad++
				}
			}
			if bad > 0 {
				what = append(what, fmt.Sprintf("%d %s", bad, field))
			}
		}
		count("samples", c.Samples)
		count("warm-up samples", c.Warmup)
		for _, k := range sortedKeys(c.Metrics) {
			if v := c.Metrics[k]; math.IsNaN(v) || math.IsInf(v, 0) {
				what = append(what, fmt.Sprintf("metric %s (%v)", k, v))
			}
		}
		for _, k := range sortedKeys(c.Params) {
			if v := c.Params[k]; math.IsNaN(v) || math.IsInf(v, 0) {
				what = append(what, fmt.Sprintf("param %s (%v)", k, v))
			}
		}
		if len(what) > 0 {
			notes = append(notes, fmt.Sprintf("%s: null in the JSON for values that were not finite numbers (not measured or not defined): %s", c.Name(), strings.Join(what, ", ")))
		}
	}
	return notes
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Load reads a result file of any schema from 1 to SchemaVersion. Unknown
// fields are rejected, so a typo in a hand-edited file is caught, as is a
// file written by a newer schema. Summaries are recomputed from the raw
// samples (null in the JSON is NaN, and a bound the samples cannot give is
// ±Inf again). A schema-1 file is upgraded as it is read; see upgradeV1.
func Load(path string) (*File, error) {
	var f File
	if err := decodeFile(path, &f); err != nil {
		return nil, err
	}
	if f.Schema < 1 || f.Schema > SchemaVersion {
		return nil, fmt.Errorf("results: %s: schema %d not supported (want 1..%d)", path, f.Schema, SchemaVersion)
	}
	for i := range f.Cases {
		c := &f.Cases[i]
		if len(c.Reps) != 0 && len(c.Reps) != len(c.Samples) {
			return nil, fmt.Errorf("results: %s: case %s: %d reps for %d samples", path, c.Name(), len(c.Reps), len(c.Samples))
		}
		*c = c.Summarize()
	}
	if f.Schema == 1 {
		upgradeV1(&f)
	}
	return &f, nil
}

// upgradeV1 reads what a schema-1 file kept implicitly into the schema-2
// fields: notes starting "INCORRECT" become Failures; the tokens of one
// llama decode repetition (Params["decode_tokens"] samples in a row) become
// one repetition in Reps; provenance extras that are numbers move to
// Numbers; the profile moves out of the extras.
func upgradeV1(f *File) {
	var notes []string
	for _, n := range f.Notes {
		if rest, ok := strings.CutPrefix(n, "INCORRECT"); ok {
			f.Failures = append(f.Failures, Failure{Check: "schema-1 note", Detail: strings.TrimLeft(rest, ": ")})
			continue
		}
		notes = append(notes, n)
	}
	f.Notes = notes
	for i := range f.Cases {
		c := &f.Cases[i]
		per := int(c.Params["decode_tokens"])
		if f.Experiment != "llama" || strings.HasPrefix(c.Group, "prefill ") || per < 2 || len(c.Samples)%per != 0 {
			continue
		}
		c.Reps = make([]int, len(c.Samples))
		for j := range c.Reps {
			c.Reps[j] = j / per
		}
	}
	p := &f.Provenance
	for _, k := range sortedKeys(p.Extra) {
		v := p.Extra[k]
		if k == "profile" {
			p.Profile = v
			delete(p.Extra, k)
			continue
		}
		if x, err := strconv.ParseFloat(v, 64); err == nil {
			p.SetNumber(k, x)
			delete(p.Extra, k)
		}
	}
}

// decodeFile decodes the JSON document in path into v strictly: unknown
// fields and trailing data are errors naming the file.
func decodeFile(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("results: %s: %w", path, err)
	}
	if dec.More() {
		return fmt.Errorf("results: %s: trailing data after the JSON document", path)
	}
	return nil
}

// DefaultPath returns where a run's file goes:
// <root>/results/<machine>/<experiment>-<UTC time>.json, with machine and
// experiment made filesystem-safe by Slug. machine is typically
// "<backend>-<device name>", e.g. "cuda-NVIDIA H100 80GB HBM3".
func DefaultPath(root, machine, experiment string, t time.Time) string {
	name := Slug(experiment) + "-" + t.UTC().Format(TimeFormat) + ".json"
	return filepath.Join(root, "results", Slug(machine), name)
}

// Slug turns s into a lower-case file name component of letters, digits,
// '.', '_' and single '-' only; "cuda-NVIDIA H100 80GB HBM3" becomes
// "cuda-nvidia-h100-80gb-hbm3". An s with nothing usable gives "unknown".
func Slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	out := strings.Trim(b.String(), ".-")
	if out == "" {
		return "unknown"
	}
	return out
}
