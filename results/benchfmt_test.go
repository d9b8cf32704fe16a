package results

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"
)

func TestWriteBenchfmtParses(t *testing.T) {
	f := sampleFile()
	f.Experiment = "matmul"
	f.Cases = append(f.Cases, Case{Group: "ctx 1024/x", Variant: "wasm zerocopy", Unit: "bytes", Samples: []float64{4096}})
	var buf bytes.Buffer
	if err := WriteBenchfmt(&buf, f); err != nil {
		t.Fatal(err)
	}
	type line struct {
		name, unit string
		value      float64
	}
	var got []line
	cfg := map[string]string{}
	r := benchfmt.NewReader(bytes.NewReader(buf.Bytes()), "test.txt")
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.Result:
			if rec.Iters != 1 || len(rec.Values) != 1 {
				t.Errorf("%s: iters %d, %d values", rec.Name, rec.Iters, len(rec.Values))
				continue
			}
			got = append(got, line{rec.Name.String(), rec.Values[0].Unit, rec.Values[0].Value})
			for _, c := range rec.Config {
				cfg[c.Key] = string(c.Value)
			}
		case *benchfmt.SyntaxError:
			t.Errorf("syntax error: %v\n%s", rec, buf.String())
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	want := []line{
		{"Matmul/n=128/variant=wasm-copy", "sec/op", 0.001},
		{"Matmul/n=128/variant=wasm-copy", "sec/op", 0.002},
		{"Matmul/n=128/variant=wasm-copy", "sec/op", 0.0015},
		{"Matmul/n=128/variant=native", "sec/op", 0.001}, // +Inf sample left out
		{"Matmul/ctx_1024_x/variant=wasm_zerocopy", "bytes/op", 4096},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d:\n%s", len(got), len(want), buf.String())
	}
	for i := range want {
		// benchfmt normalizes ns/op to sec/op.
		if got[i].name != want[i].name || got[i].unit != want[i].unit || !near(got[i].value, want[i].value) {
			t.Errorf("result %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for k, v := range map[string]string{"goos": "linux", "goarch": "amd64", "cpu": "Test CPU", "device": "cpu Test CPU",
		"pkg": "github.com/wasmgpu/wasmgpu/experiments/matmul"} {
		if cfg[k] != v {
			t.Errorf("config %s = %q, want %q", k, cfg[k], v)
		}
	}
	if strings.Contains(buf.String(), "0.5") {
		t.Error("warm-up sample written")
	}
}

func near(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= 1e-12*(1+b)
}
