package spec

import (
	"errors"
	"strings"
	"testing"
)

type testCase struct {
	N    int    `yaml:"n"`
	Name string `yaml:"name"`
}

type testSpec struct {
	Sizes  []int      `yaml:"sizes"`
	Cases  []testCase `yaml:"cases"`
	Warmup int        `yaml:"warmup"`
}

const good = `# matmul spec
sizes: [128, 256]
warmup: 2
cases:
  - n: 1
    name: small
  - n: 0
    name: zero
`

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error; nil means success
	}{
		{"ok", good, nil},
		{"unknown field", "sizes: [1]\ncases:\n  - n: 1\n    bogus: 2\n",
			[]string{"m.yaml:4:5: ", `field "cases[0].bogus"`, `unknown field "bogus"`}},
		{"wrong element type", "sizes: [1, x]\n",
			[]string{"m.yaml:1:12: ", `field "sizes[1]"`, "cannot unmarshal string into int"}},
		{"wrong nested type", "warmup: 1\ncases:\n  - n: abc\n",
			[]string{"m.yaml:3:8: ", `field "cases[0].n"`, "cannot unmarshal string into int"}},
		{"scalar for sequence", "warmup: 1\nsizes: hello\n",
			[]string{"m.yaml:2:8: ", `field "sizes"`, "string was used where sequence is expected"}},
		{"malformed", "sizes: [1, 2\n", []string{"m.yaml:1:8: ", "']' not found"}},
		{"duplicate key", "sizes: [1]\nsizes: [2]\n", []string{"m.yaml:2:1: ", `"sizes" already defined`}},
		{"empty", "", []string{"m.yaml:1:1: ", "empty spec"}},
		{"only comments", "# nothing\n", []string{"m.yaml:1:1: ", "empty spec"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testSpec
			err := Decode("experiments/m.yaml", []byte(tt.yaml), &s)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(s.Sizes) != 2 || s.Cases[1].Name != "zero" {
					t.Errorf("decoded %+v", s)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, decoded %+v", s)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Errorf("error %T is not *spec.Error", err)
			}
			if !strings.HasPrefix(err.Error(), "experiments/m.yaml:") {
				t.Errorf("error %q does not start with file:line", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestFieldError(t *testing.T) {
	data := []byte(good)
	for _, tc := range []struct{ path, msg, want string }{
		{"$.cases[1].n", "must be ≥ 1", `experiments/m.yaml:7:8: field "cases[1].n": must be ≥ 1`},
		{"cases[1].n", "must be ≥ 1", `experiments/m.yaml:7:8: field "cases[1].n": must be ≥ 1`},
		{"$.sizes[1]", "too big", `experiments/m.yaml:2:14: field "sizes[1]": too big`},
		{"$.warmup", "must be ≤ 1", `experiments/m.yaml:3:9: field "warmup": must be ≤ 1`},
		// Missing field: the position of the nearest enclosing node.
		{"$.cases[0].iters", "required", `experiments/m.yaml:5:5: field "cases[0].iters": required`},
		{"$.[[bad", "x", `field "[[bad": x`},
	} {
		err := FieldError("experiments/m.yaml", data, tc.path, tc.msg)
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FieldError(%q) = %q, want %q", tc.path, err, tc.want)
		}
	}
	if err := FieldError("m.yaml", []byte("a: [\n"), "$.a", "bad"); !strings.Contains(err.Error(), `m.yaml: field "a": bad`) {
		t.Errorf("malformed data: %v", err)
	}
}

func TestRequired(t *testing.T) {
	data := []byte(good)
	if err := Required("m.yaml", data, "$.sizes", "warmup", "$.cases[1].n"); err != nil {
		t.Fatalf("present fields reported missing: %v", err)
	}
	err := Required("m.yaml", data, "$.iters", "$.cases[0].threads", "$.sizes")
	if err == nil {
		t.Fatal("missing fields not reported")
	}
	for _, w := range []string{`m.yaml:2:1: field "iters": required field missing`, `m.yaml:5:5: field "cases[0].threads": required field missing`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), `"sizes"`) {
		t.Errorf("present field reported: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{good, "", "sizes: [1, x]\n", "cases: {a: 1}\n", "a: b: c\n", "- 1\n", "&a [*a]\n", "sizes: !!binary aGk=\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s testSpec
		err := Decode("f.yaml", data, &s)
		if err != nil && !strings.HasPrefix(err.Error(), "f.yaml") {
			t.Errorf("error %q does not name the file", err)
		}
	})
}
