package optable

import (
	"strings"
	"testing"
)

// TestWireIsTheABI holds the table's wire layout to the host ABI the
// committed guests were built against: names, order and count of every
// import's parameters. A change here breaks every guest .wasm built before.
func TestWireIsTheABI(t *testing.T) {
	want := map[string]string{
		"embed":       "table tokens tokens_len out out_len n",
		"rmsnorm":     "weight x x_len out out_len n eps:f32",
		"linear":      "weight x x_len out out_len n",
		"rope":        "x x_len inv_freq inv_freq_len n heads head_dim pos",
		"kvstore":     "src src_len cache cache_len dt n pos width",
		"attention":   "q q_len k_cache k_cache_len v_cache v_cache_len out out_len dt n pos heads kv_heads head_dim",
		"swiglu":      "gate gate_len up up_len out out_len count",
		"add":         "x x_len y y_len count",
		"argmax":      "x x_len out out_len n width",
		"sync":        "",
		"norm_linear": "norm count weights0 weights1 weights2 x x_len xb xb_len outs0 outs0_len outs1 outs1_len outs2 outs2_len n eps:f32",
		"norm_glu":    "norm gate up x x_len xb xb_len tmp tmp_len out out_len n eps:f32",
		"linear_add":  "weight x x_len tmp tmp_len resid resid_len n",
		"rope_kv":     "q q_len k k_len v v_len inv_freq inv_freq_len k_cache k_cache_len v_cache v_cache_len dt n pos heads kv_heads head_dim",
	}
	ls, err := Compile(Ops)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != len(want) {
		t.Fatalf("%d ops, want %d", len(ls), len(want))
	}
	for i, l := range ls {
		if int(l.Code) != i {
			t.Errorf("op %s has code %d at index %d: codes are dense and in order", l.Name, l.Code, i)
		}
		var got []string
		for _, p := range l.Wire {
			if p.Kind == PF32 {
				got = append(got, p.Name+":f32")
			} else {
				got = append(got, p.Name)
			}
		}
		if g := strings.Join(got, " "); g != want[l.Name] {
			t.Errorf("llm_%s(%s), want llm_%s(%s)", l.Name, g, l.Name, want[l.Name])
		}
	}
}

func TestCompileRejectsBadTables(t *testing.T) {
	base := func() Op {
		return Op{Code: 0, Name: "lin", Method: "Lin", Doc: "d",
			Weights:  []Weight{{Name: "w", Shape: "o, i"}},
			Operands: []Operand{{Name: "x", Role: In, Elem: F32, Shape: "n, i"}, {Name: "out", Role: Out, Elem: F32, Shape: "n, o"}},
			Scalars:  []Scalar{{Name: "n", Kind: Count}}}
	}
	for _, c := range []struct {
		name string
		edit func(*Op)
		want string
	}{
		{"ok", func(*Op) {}, ""},
		{"unknown dim", func(o *Op) { o.Operands[1].Shape = "n, p" }, `"p" names no scalar`},
		{"bad divisor", func(o *Op) { o.Operands[0].Shape = "n, i/1" }, "divisor"},
		{"kv without dtype", func(o *Op) { o.Operands[1].Elem = KV }, "no KV dtype scalar"},
		{"alias to output", func(o *Op) { o.Operands[1].Alias = "out" }, "alias"},
		{"repeat without group", func(o *Op) { o.Weights[0].Repeat = true }, "group"},
		{"bad rule", func(o *Op) { o.Rules = []string{"n > i"} }, "not one of the forms"},
		{"rule on unknown", func(o *Op) { o.Rules = []string{"n % q == 0"} }, `"q" names no`},
		{"two f32", func(o *Op) { o.Scalars = append(o.Scalars, Scalar{"a", NonNeg}, Scalar{"b", NonNeg}) }, "more than one f32"},
		{"duplicate name", func(o *Op) { o.Operands[1].Name = "x" }, "used twice"},
		{"no doc", func(o *Op) { o.Doc = "" }, "no doc"},
	} {
		op := base()
		c.edit(&op)
		_, err := Compile([]Op{op})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := Compile([]Op{base(), base()}); err == nil {
		t.Error("two ops with one code accepted")
	}
}

// FuzzCompile hands the table's parser arbitrary shapes and rules: it must
// compile them or say why, never panic.
func FuzzCompile(f *testing.F) {
	f.Add("n, in", "n, outDim", "headDim % 2 == 0")
	f.Add("seq, width", "n, width/2", "seq >= pos + n")
	f.Add("n,, in/0", "", "dtype(w) == dtype(w)")
	f.Fuzz(func(t *testing.T, xShape, outShape, rule string) {
		op := Op{Code: 0, Name: "fz", Method: "Fz", Doc: "d",
			Weights:  []Weight{{Name: "w", Shape: "outDim, in"}},
			Operands: []Operand{{Name: "x", Role: In, Elem: F32, Shape: xShape}, {Name: "out", Role: Out, Elem: F32, Shape: outShape}},
			Scalars:  []Scalar{{Name: "n", Kind: Count}, {Name: "pos", Kind: Index}, {Name: "headDim", Kind: Count}, {Name: "width", Kind: Count}},
			Rules:    []string{rule}}
		if ls, err := Compile([]Op{op}); err == nil && len(ls[0].Operands) != 2 {
			t.Fatalf("compiled %d operands", len(ls[0].Operands))
		}
	})
}
