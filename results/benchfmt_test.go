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
	f.Cases = append(f.Cases,
		Case{Group: "ctx 1024/x", Variant: "wasm zerocopy", Unit: "bytes", Samples: []float64{4096}},
		Case{Group: "prefill prompt=24", Variant: "wasm-managed", Samples: []float64{3, 1, 2, 9}, Reps: []int{0, 0, 0, 1}},
	)
	var buf bytes.Buffer
	if err := WriteBenchfmt(&buf, f); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "# wasmgpu: exp=matmul commit=deadbeef ") {
		t.Errorf("no leading comment with the commit:\n%s", buf.String())
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
		{"Wasmgpu/exp=matmul/case=n=128/phase=call/variant=wasm/mode=copy", "sec/op", 0.001},
		{"Wasmgpu/exp=matmul/case=n=128/phase=call/variant=wasm/mode=copy", "sec/op", 0.002},
		{"Wasmgpu/exp=matmul/case=n=128/phase=call/variant=wasm/mode=copy", "sec/op", 0.0015},
		{"Wasmgpu/exp=matmul/case=n=128/phase=call/variant=native", "sec/op", 0.001}, // +Inf sample left out
		{"Wasmgpu/exp=matmul/case=1024_x/phase=ctx/variant=wasm_zerocopy", "bytes/op", 4096},
		// One line per repetition: the median of repetition 0, then 1.
		{"Wasmgpu/exp=matmul/case=prompt=24/phase=prefill/variant=wasm/mode=managed", "sec/op", 2},
		{"Wasmgpu/exp=matmul/case=prompt=24/phase=prefill/variant=wasm/mode=managed", "sec/op", 9},
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
	if _, ok := cfg["commit"]; ok {
		t.Error("commit written as configuration: benchstat would split files of two commits into two tables")
	}
	if strings.Contains(buf.String(), "0.5") {
		t.Error("warm-up sample written")
	}
}

func TestBenchKeys(t *testing.T) {
	for _, tc := range []struct {
		exp  string
		c    Case
		want string
	}{
		{"llama", Case{Group: "prompt=24", Variant: "wasm-managed"}, "exp=llama case=prompt=24 phase=decode variant=wasm mode=managed"},
		{"llama", Case{Group: "prefill prompt=24", Variant: "native-mapped"}, "exp=llama case=prompt=24 phase=prefill variant=native mode=mapped"},
		{"kv", Case{Group: "ctx=24", Variant: "restore-warm wasm-zerocopy", Labels: map[string]string{"op": "restore-warm", "session": "wasm-zerocopy"}},
			"exp=kv case=ctx=24 phase=restore-warm variant=wasm mode=zerocopy"},
		{"matmul", Case{Group: "host-call", Variant: "wasm-nop"}, "exp=matmul case=host-call phase=call variant=wasm mode=nop"},
	} {
		var parts []string
		for _, kv := range BenchKeys(tc.exp, tc.c) {
			parts = append(parts, kv[0]+"="+kv[1])
		}
		if got := strings.Join(parts, " "); got != tc.want {
			t.Errorf("BenchKeys(%s, %s) = %q, want %q", tc.exp, tc.c.Name(), got, tc.want)
		}
	}
}

func near(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= 1e-12*(1+b)
}
