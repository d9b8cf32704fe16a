package experiments

import (
	"slices"
	"strings"
	"testing"
)

func TestOverrides(t *testing.T) {
	var o Overrides
	if !o.IsZero() {
		t.Fatal("zero overrides not zero")
	}
	for _, arg := range []string{"prompt=24,512", "decode=8"} {
		if err := o.ParseSet(arg); err != nil {
			t.Fatal(err)
		}
	}
	o.Reps = 5
	if got := strings.Join(o.Strings(), " "); got != "-reps 5 -set decode=8 -set prompt=24,512" {
		t.Errorf("Strings() = %q", got)
	}
	if v, ok := o.Ints("prompt"); !ok || !slices.Equal(v, []int{24, 512}) {
		t.Errorf("Ints(prompt) = %v, %v", v, ok)
	}
	for arg, want := range map[string]string{"prompt": "want key=value", "=3": "want key=value", "n=0": "not a whole number ≥ 1", "n=2,x": `"x"`} {
		if err := o.ParseSet(arg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSet(%q) = %v, want %q", arg, err, want)
		}
	}
	d := Driver{Name: "llama", SetKeys: []string{"prompt", "decode"}}
	if err := o.Check(d); err != nil {
		t.Errorf("Check: %v", err)
	}
	o.Set["ctx"] = []int{1}
	if err := o.Check(d); err == nil || !strings.Contains(err.Error(), "it takes prompt, decode") {
		t.Errorf("unknown key: %v", err)
	}
	if err := (Overrides{Warmup: 2}).Check(d); err == nil || !strings.Contains(err.Error(), "-warmup") {
		t.Errorf("-warmup for a driver without warm-up calls: %v", err)
	}
}

func FuzzParseSet(f *testing.F) {
	for _, s := range []string{"prompt=24,512", "n=1", "=", "a==1", "x=1,,2", "k=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		var o Overrides
		if err := o.ParseSet(arg); err != nil {
			return
		}
		for k, vs := range o.Set {
			if k == "" || len(vs) == 0 {
				t.Errorf("%q parsed to key %q values %v", arg, k, vs)
			}
			for _, v := range vs {
				if v < 1 {
					t.Errorf("%q parsed to %d", arg, v)
				}
			}
		}
	})
}

func TestBuiltinSpecs(t *testing.T) {
	if got := SpecNames(); !slices.Equal(got, []string{"kv", "llama", "matmul", "tenants"}) {
		t.Errorf("SpecNames() = %v", got)
	}
	if _, err := BuiltinSpec("bogus"); err == nil || !strings.Contains(err.Error(), "known: kv, llama, matmul") {
		t.Errorf("BuiltinSpec(bogus): %v", err)
	}
}
