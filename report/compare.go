package report

import (
	"fmt"
	"io"
	"math"

	"github.com/wasmgpu/wasmgpu/internal/stats"
	"github.com/wasmgpu/wasmgpu/results"
)

// Compare prints a benchstat-style table comparing the cases of two runs,
// matched by (Group, Variant): old and new median with their CIs, the
// change of the median, the Mann-Whitney p-value and sample counts, with
// "~" in the delta column where the difference is not significant at
// stats.DefaultAlpha. Cases present in only one file are listed below the
// table.
//
// Lower is taken to be better (latencies, bytes). A case has regressed when
// the difference is significant and the new median is more than threshold
// (a fraction: 0.05 is 5%) above the old one; regressed reports whether any
// case did, so a CI job can fail on it.
func Compare(w io.Writer, old, new *results.File, threshold float64) (regressed bool, err error) {
	if old == nil || new == nil {
		return false, fmt.Errorf("report: compare: nil result file")
	}
	if math.IsNaN(threshold) || threshold < 0 {
		return false, fmt.Errorf("report: compare: threshold %v must be a fraction ≥ 0", threshold)
	}

	type key struct{ group, variant string }
	oldCases := map[key]results.Case{}
	for _, c := range old.Cases {
		k := key{c.Group, c.Variant}
		if _, dup := oldCases[k]; !dup {
			oldCases[k] = c
		}
	}

	header := []string{"case", "old", "new", "delta", "p", "n", "verdict"}
	right := []bool{false, true, true, true, true, true, false}
	var rows [][]string
	var onlyNew []string
	matched := map[key]bool{}
	for _, nc := range new.Cases {
		k := key{nc.Group, nc.Variant}
		if matched[k] {
			continue // duplicate in new: the first one is compared
		}
		oc, ok := oldCases[k]
		if !ok {
			onlyNew = append(onlyNew, nc.Name())
			continue
		}
		matched[k] = true
		unit := nc.UnitOrDefault()
		if ou := oc.UnitOrDefault(); ou != unit {
			rows = append(rows, []string{nc.Name(), "", "", "", "", "", fmt.Sprintf("units differ: %s vs %s", ou, unit)})
			continue
		}
		cmp := stats.Compare(oc.Samples, nc.Samples, stats.DefaultAlpha)
		verdict := ""
		switch {
		case cmp.Significant && cmp.Ratio-1 > threshold:
			verdict = "REGRESSION"
			regressed = true
		case cmp.Significant && cmp.Ratio < 1:
			verdict = "faster"
		case cmp.Significant:
			verdict = "slower (within threshold)"
		case cmp.Old.N < 2 || cmp.New.N < 2:
			verdict = "too few samples"
		}
		rows = append(rows, []string{
			nc.Name(),
			MedianCI(cmp.Old, unit),
			MedianCI(cmp.New, unit),
			cmp.Delta,
			pValue(cmp.P),
			fmt.Sprintf("%d+%d", cmp.Old.N, cmp.New.N),
			verdict,
		})
	}
	if err := RenderTable(w, header, rows, right, false); err != nil {
		return regressed, err
	}
	var onlyOld []string
	for _, oc := range old.Cases {
		if k := (key{oc.Group, oc.Variant}); !matched[k] {
			matched[k] = true // list duplicates once
			onlyOld = append(onlyOld, oc.Name())
		}
	}
	for _, n := range onlyOld {
		fmt.Fprintf(w, "only in old: %s\n", n)
	}
	for _, n := range onlyNew {
		fmt.Fprintf(w, "only in new: %s\n", n)
	}
	fmt.Fprintf(w, "delta is the change of the median; ~ means not significant (Mann-Whitney U, α=%v); regression threshold %s\n",
		stats.DefaultAlpha, Percent(threshold))
	return regressed, nil
}

// pValue formats a p-value with three decimals, as benchstat does, and
// "<0.001" below that.
func pValue(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", p)
}
