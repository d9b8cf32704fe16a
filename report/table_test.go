package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/results"
)

func testFile() *results.File {
	return &results.File{
		Schema: 1, Experiment: "matmul", Started: time.Unix(0, 0).UTC(),
		Cases: []results.Case{
			results.Case{Group: "n=128", Variant: "wasm-copy", Warmup: []float64{0.4},
				Samples: []float64{1.1e-3, 1.2e-3, 1.0e-3, 1.3e-3, 1.15e-3, 1.05e-3, 1.25e-3},
				Metrics: map[string]float64{"rss_delta_bytes": 16.78 * 1024 * 1024}}.Summarize(),
			results.Case{Group: "n=128", Variant: "wasm|zerocopy", Samples: []float64{2e-6, 3e-6},
				Labels: map[string]string{"proof": "ptr equal"}}.Summarize(),
			{Group: "n=256", Variant: "native"},
			{Group: "n=512", Variant: "native", Samples: []float64{1, 2, 3}}, // summary left unset
		},
	}
}

func TestTable(t *testing.T) {
	f := testFile()
	cols := append(DefaultColumns, ColWarmup, MetricColumn("rss Δ", "rss_delta_bytes", Bytes), LabelColumn("proof", "proof"))
	for _, md := range []bool{false, true} {
		format := map[bool]Format{true: Markdown, false: Terminal}[md]
		var buf bytes.Buffer
		if err := Table(&buf, f, cols, format); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		t.Logf("markdown=%v\n%s", md, out)
		for _, want := range []string{"median [95% CI]", "n=128", "1.15ms [1.00ms, 1.30ms]", "2.50µs [-∞, ∞]", "16.8MiB", "400ms", "ptr equal", "2.00s [-∞, ∞]"} {
			if !strings.Contains(out, want) {
				t.Errorf("markdown=%v: output lacks %q", md, want)
			}
		}
		if md {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 6 || !strings.HasPrefix(lines[1], "|:") && !strings.HasPrefix(lines[1], "|-") {
				t.Errorf("not a 6-line Markdown table:\n%s", out)
			}
			if !strings.Contains(out, `wasm\|zerocopy`) {
				t.Error("pipe in a cell not escaped")
			}
		}
	}
	if err := Table(&bytes.Buffer{}, nil, nil, Terminal); err == nil {
		t.Error("nil file accepted")
	}
}

// TestTableFormats: the terminal leaves detail columns out; CSV has them.
func TestTableFormats(t *testing.T) {
	f := testFile()
	cols := []Column{ColGroup, ColVariant, ColMedianPM, MetricColumn("rss Δ", "rss_delta_bytes", Bytes).Detailed()}
	var term, csv bytes.Buffer
	if err := Table(&term, f, cols, Terminal); err != nil {
		t.Fatal(err)
	}
	if err := Table(&csv, f, cols, CSV); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(term.String(), "rss") || !strings.Contains(term.String(), "1.15ms ±14%") {
		t.Errorf("terminal table:\n%s", term.String())
	}
	lines := strings.Split(strings.TrimSpace(csv.String()), "\n")
	if len(lines) != 5 || lines[0] != "group,variant,median ±95% CI,rss Δ" || !strings.HasPrefix(lines[1], "n=128,wasm-copy,1.15ms ±14%,16.8MiB") {
		t.Errorf("csv:\n%s", csv.String())
	}
	for _, s := range []string{"table", "md", "csv"} {
		if _, err := ParseFormat(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "table, md, csv or json") {
		t.Errorf("ParseFormat(xml): %v", err)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{Duration(0), "0s"},
		{Duration(812e-9), "812ns"},
		{Duration(1.5e-9), "1.50ns"},
		{Duration(12.34e-6), "12.3µs"},
		{Duration(4.567e-3), "4.57ms"},
		{Duration(0.999), "999ms"},
		{Duration(1.234), "1.23s"},
		{Duration(125), "125s"},
		{Duration(math.NaN()), "NaN"},
		{Duration(math.Inf(-1)), "-∞"},
		{Bytes(512), "512B"},
		{Bytes(1536), "1.50KiB"},
		{Bytes(16 * 1024 * 1024), "16.0MiB"},
		{Bytes(-0.03 * 1024 * 1024), "-30.7KiB"},
		{Bytes(3 * 1 << 30), "3.00GiB"},
		{Value(2.5, "ms"), "2.50ms"},
		{Value(1024, "bytes"), "1.00KiB"},
		{Value(42.42, "tok/s"), "42.4 tok/s"},
		{Percent(0.1234), "+12.34%"},
		{Percent(-0.5), "-50.00%"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
