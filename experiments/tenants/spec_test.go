package tenants

import (
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/spec/spectest"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// goodSpec is a small valid spec the refusals edit, and the driver test
// runs (Tiny model, 2 tenants).
const goodSpec = `experiment: tenants
model: tiny
seed: 3
weights_dtype: bf16
kv_dtype: bf16
max_seq: 64
max_batch: 8
repetitions: 2
tenants: [1, 2]
prompt_tokens: 6
decode_tokens: 8
prompts: 2
max_wait_ms: 1
arrival:
  process: poisson
  rate: 50
eviction:
  fraction: 0.5
  at: 0.5
  idle_ms: 2
backends:
  cpu:
    wasm_modes: [zerocopy]
quick:
  tenants: [2]
  prompt_tokens: 20
`

func parse(path string, data []byte) error { _, err := Parse(path, data); return err }

// TestSpecRefused: every bad value is refused before anything runs,
// naming the file, line and YAML path.
func TestSpecRefused(t *testing.T) {
	spectest.Refused(t, goodSpec, parse, []spectest.Edit{
		spectest.E("experiment", "experiment: tenants", "experiment: llama", "experiment", `must be "tenants"`),
		spectest.E("unknown field", "prompts: 2\n", "prompts: 2\nprompt: 3\n", "bad.yaml:13", "prompt"),
		spectest.E("missing tenants", "tenants: [1, 2]\n", "", "tenants", "required"),
		spectest.E("missing arrival", "arrival:\n  process: poisson\n  rate: 50\n", "", "arrival", "required"),
		spectest.E("model", "model: tiny", "model: gpt", "bad.yaml:2", "model"),
		spectest.E("repetitions", "repetitions: 2", "repetitions: 1", "bad.yaml:8", "repetitions", "warm-up"),
		spectest.E("empty tenants", "tenants: [1, 2]", "tenants: []", "bad.yaml:9", "tenants", "at least one"),
		spectest.E("zero tenants", "tenants: [1, 2]", "tenants: [0, 2]", "bad.yaml:9", "tenants[0]", "[1, 1024]"),
		spectest.E("too many tenants", "tenants: [1, 2]", "tenants: [1, 2000]", "tenants[1]", "[1, 1024]"),
		spectest.E("tenants not increasing", "tenants: [1, 2]", "tenants: [2, 2]", "tenants[1]", "larger than the one before"),
		spectest.E("prompt zero", "prompt_tokens: 6", "prompt_tokens: 0", "bad.yaml:10", "prompt_tokens", "≥ 1"),
		spectest.E("one decoded token", "decode_tokens: 8", "decode_tokens: 1", "bad.yaml:11", "decode_tokens", "≥ 2"),
		spectest.E("beyond max_seq", "decode_tokens: 8", "decode_tokens: 60", "prompt_tokens", "prompt 6 + decode 60 tokens exceed max_seq 64"),
		spectest.E("no prompts", "prompts: 2", "prompts: 0", "bad.yaml:12", "prompts", "[1, 1024]"),
		spectest.E("max_wait negative", "max_wait_ms: 1", "max_wait_ms: -1", "bad.yaml:13", "max_wait_ms", "[0, 1000]"),
		spectest.E("max_wait huge", "max_wait_ms: 1", "max_wait_ms: 5000", "max_wait_ms", "[0, 1000]"),
		spectest.E("unknown process", "process: poisson", "process: uniform", "bad.yaml:15", "arrival.process", `unknown arrival process "uniform"`),
		spectest.E("zero rate", "rate: 50", "rate: 0", "bad.yaml:16", "arrival.rate", "rate > 0"),
		spectest.E("negative rate", "rate: 50", "rate: -3", "arrival.rate", "rate > 0"),
		spectest.E("closed with a rate", "process: poisson", "process: closed", "arrival.rate", "takes no rate"),
		spectest.E("eviction fraction", "fraction: 0.5", "fraction: 1.5", "bad.yaml:18", "eviction.fraction", "[0, 1]"),
		spectest.E("eviction at", "at: 0.5", "at: 1", "bad.yaml:19", "eviction.at", "(0, 1)"),
		spectest.E("eviction idle", "idle_ms: 2", "idle_ms: -5", "bad.yaml:20", "eviction.idle_ms"),
		spectest.E("native modes", "    wasm_modes: [zerocopy]\n", "    wasm_modes: [zerocopy]\n    native_modes: [zerocopy]\n", "backends.cpu.native_modes[0]", "tenants are guests"),
		spectest.E("resident", "wasm_modes: [zerocopy]", "wasm_modes: [resident]", "wasm_modes[0]", "resident"),
		spectest.E("unknown backend", "  cpu:\n", "  tpu:\n", "backends.tpu", `unknown backend "tpu"`),
		spectest.E("backend tenants", "    wasm_modes: [zerocopy]\n", "    wasm_modes: [zerocopy]\n    tenants: [4, 2]\n", "bad.yaml:24", "backends.cpu.tenants[1]", "larger"),
		spectest.E("backend lengths", "    wasm_modes: [zerocopy]\n", "    wasm_modes: [zerocopy]\n    decode_tokens: 59\n", "backends.cpu.decode_tokens", "exceed max_seq 64"),
		spectest.E("backend rate", "    wasm_modes: [zerocopy]\n", "    wasm_modes: [zerocopy]\n    arrival: {process: poisson, rate: -1}\n", "backends.cpu.arrival.rate", "rate > 0"),
		spectest.E("backend max_batch", "    wasm_modes: [zerocopy]\n", "    wasm_modes: [zerocopy]\n    max_batch: 0x2000\n", "backends.cpu.max_batch"),
		spectest.E("quick tenants", "  tenants: [2]", "  tenants: [-2]", "bad.yaml:25", "quick.tenants[0]"),
		spectest.E("quick repetitions", "  tenants: [2]", "  tenants: [2]\n  repetitions: 1", "quick.repetitions", "warm-up"),
		spectest.E("quick model", "  tenants: [2]", "  tenants: [2]\n  model: huge", "quick.model", `unknown model preset "huge"`),
		spectest.E("quick lengths", "  prompt_tokens: 20", "  prompt_tokens: 60", "quick.prompt_tokens", "exceed max_seq 64"),
		spectest.E("backend and quick lengths", "    wasm_modes: [zerocopy]\n", "    wasm_modes: [zerocopy]\n    decode_tokens: 45\n", "max_seq", "backends.cpu with the quick profile", "exceed max_seq 64"),
	})
}

// TestPlan: the backend section, the quick profile and the command line
// replace the top level's values in that order.
func TestPlan(t *testing.T) {
	spec := strings.Replace(goodSpec, "    wasm_modes: [zerocopy]\n",
		"    wasm_modes: [zerocopy]\n    tenants: [1, 4]\n    decode_tokens: 10\n    arrival: {process: closed}\n", 1)
	s, err := Parse("good.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan("cpu", false, experiments.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tenants) != 2 || p.Tenants[1] != 4 || p.TenantsAt != "$.backends.cpu.tenants" || p.DecodeTokens != 10 || p.PromptTokens != 6 ||
		p.Arrival.Process != ArrivalClosed || p.Prompts != 2 || len(p.WasmModes) != 1 || p.WasmModes[0] != device.ZeroCopy {
		t.Fatalf("cpu plan %+v", p)
	}
	q, err := s.Plan("cpu", true, experiments.Overrides{})
	if err != nil || len(q.Tenants) != 1 || q.Tenants[0] != 2 || q.TenantsAt != "$.quick.tenants" {
		t.Fatalf("quick plan %+v, %v", q, err)
	}
	o, err := s.Plan("cpu", false, experiments.Overrides{Reps: 4, Set: map[string][]int{"tenants": {3, 5}, "prompt": {4}, "decode": {7}}})
	if err != nil || o.Repetitions != 5 || len(o.Tenants) != 2 || o.Tenants[1] != 5 || o.TenantsAt != "-set tenants" || o.PromptTokens != 4 || o.DecodeTokens != 7 {
		t.Fatalf("overridden plan %+v, %v", o, err)
	}
	for name, set := range map[string]map[string][]int{
		"tenants not increasing":   {"tenants": {4, 2}},
		"two prompt lengths":       {"prompt": {4, 5}},
		"one decoded token":        {"decode": {1}},
		"beyond max_seq":           {"decode": {60}},
		"too many tenants at -set": {"tenants": {4096}},
	} {
		if _, err := s.Plan("cpu", false, experiments.Overrides{Set: set}); err == nil {
			t.Errorf("%s: -set %v accepted", name, set)
		}
	}
	if _, err := s.Plan("cuda", false, experiments.Overrides{}); err == nil || !strings.Contains(err.Error(), "no backends.cuda section") {
		t.Errorf("a backend without a section: %v", err)
	}
}

// TestCheckMemory: a number of tenants whose guests and weights exceed the
// budget is refused naming the count's YAML path (or -set), the sizes and
// the limit; the same plan fits a budget large enough.
func TestCheckMemory(t *testing.T) {
	s, err := Parse("good.yaml", []byte(goodSpec))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan("cpu", false, experiments.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	guest, weights := p.GuestBytes(), p.WeightBytes()
	if guest == 0 || weights == 0 {
		t.Fatalf("guest %d, weights %d bytes", guest, weights)
	}
	if err := p.CheckMemory(Budget{Bytes: weights + 2*guest, What: "enough"}); err != nil {
		t.Fatalf("2 tenants in exactly their memory: %v", err)
	}
	err = p.CheckMemory(Budget{Bytes: weights + 2*guest - 1, What: "the test's 1 byte short"})
	for _, want := range []string{"good.yaml:9", `"tenants[1]"`, "2 tenants need", "max_seq 64", "the test's 1 byte short"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("one byte short: %v, want it to mention %q", err, want)
		}
	}
	o, err := s.Plan("cpu", false, experiments.Overrides{Set: map[string][]int{"tenants": {1, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.CheckMemory(Budget{Bytes: weights + 2*guest, What: "small"}); err == nil || !strings.Contains(err.Error(), "-set tenants=3") {
		t.Errorf("-set tenants=3 beyond the budget: %v", err)
	}
	// The 1B model's 64 tenants (about 14 GiB) do not fit an 8 GiB
	// machine: the committed spec's cuda list is refused there, the cpu
	// list is not.
	data, err := experiments.BuiltinSpec("tenants")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("experiments/tenants.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	box := Budget{Bytes: 8 << 30, What: "an 8 GiB host"}
	cuda, err := b.Plan("cuda", false, experiments.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cuda.CheckMemory(box); err == nil || !strings.Contains(err.Error(), "experiments/tenants.yaml:") || !strings.Contains(err.Error(), `field "tenants[`) {
		t.Errorf("64 tenants of the 1B model in 8 GiB: %v", err)
	}
	cpu, err := b.Plan("cpu", false, experiments.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cpu.CheckMemory(box); err != nil {
		t.Errorf("the cpu plan in 8 GiB: %v", err)
	}
	h200 := Budget{Bytes: 143771369472, What: "an H200"}
	if err := cuda.CheckMemory(h200); err != nil {
		t.Errorf("the cuda plan on an H200: %v", err)
	}
}

// TestBuiltinSpec: the committed spec parses and plans on every backend,
// full and quick, and its quick profile is the small one CI runs.
func TestBuiltinSpec(t *testing.T) {
	data, err := experiments.BuiltinSpec("tenants")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("experiments/tenants.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range experiments.Backends {
		for _, quick := range []bool{false, true} {
			if _, err := s.Plan(b, quick, experiments.Overrides{}); err != nil {
				t.Errorf("%s quick=%v: %v", b, quick, err)
			}
		}
	}
	cuda, _ := s.Plan("cuda", false, experiments.Overrides{})
	if cuda.PromptTokens != 128 || cuda.DecodeTokens != 128 || cuda.Tenants[len(cuda.Tenants)-1] != 64 || cuda.Model != "llama-3.2-1b" {
		t.Errorf("cuda plan is not issue 16's: %+v", cuda)
	}
	q, _ := s.Plan("cpu", true, experiments.Overrides{})
	if q.Model != "tiny" || q.Config.HiddenSize != 64 || q.Tenants[len(q.Tenants)-1] > 4 {
		t.Errorf("quick plan is not small: model %s, tenants %v", q.Model, q.Tenants)
	}
}

// TestEvicted: the evicted tenants are the fraction of every prefix.
func TestEvicted(t *testing.T) {
	for _, c := range []struct {
		f    float64
		n    int
		want []int
	}{
		{0, 8, nil},
		{0.25, 1, nil},
		{0.25, 4, []int{3}},
		{0.25, 8, []int{3, 7}},
		{0.5, 4, []int{1, 3}},
		{1, 3, []int{0, 1, 2}},
	} {
		var got []int
		for i := range c.n {
			if (Eviction{Fraction: c.f}).Evicted(i) {
				got = append(got, i)
			}
		}
		if len(got) != len(c.want) || (len(got) > 0 && got[len(got)-1] != c.want[len(c.want)-1]) {
			t.Errorf("fraction %g of %d: evicted %v, want %v", c.f, c.n, got, c.want)
		}
	}
	for _, c := range []struct {
		at            float64
		decode, after int
	}{{0.5, 128, 64}, {0.5, 8, 4}, {0.01, 8, 1}, {0.99, 8, 7}, {0.5, 2, 1}} {
		if got := (Eviction{At: c.at}).AfterTokens(c.decode); got != c.after {
			t.Errorf("at %g of %d: after %d tokens, want %d", c.at, c.decode, got, c.after)
		}
	}
}

// FuzzParse: no spec makes the parser panic, and a spec it accepts plans
// on each of its backends, full and quick, and checks its memory.
func FuzzParse(f *testing.F) {
	f.Add([]byte(goodSpec))
	data, _ := experiments.BuiltinSpec("tenants")
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for b := range s.Backends {
			for _, quick := range []bool{false, true} {
				p, err := s.Plan(b, quick, experiments.Overrides{})
				if err != nil {
					t.Fatalf("a valid spec gave no plan for %s (quick %v): %v", b, quick, err)
				}
				_ = p.CheckMemory(Budget{Bytes: 1 << 30, What: "fuzz"})
			}
		}
	})
}
