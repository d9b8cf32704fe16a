package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestDisabledBarIsSilent(t *testing.T) {
	Disable()
	if Enabled() {
		t.Fatal("Enabled after Disable")
	}
	b := New(10, "x")
	b.Add(1)
	b.Describe("y")
	b.Finish()
	var nilBar *Bar
	nilBar.Add(1)
	nilBar.Describe("z")
	nilBar.Finish()
}

func TestNewTo(t *testing.T) {
	var buf bytes.Buffer
	b := NewTo(&buf, 4, "matmul")
	for range 4 {
		b.Add(1)
	}
	b.Describe("matmul n=256")
	b.Finish()
	out := buf.String()
	if !strings.Contains(out, "(4/4)") || !strings.Contains(out, "\n") {
		t.Errorf("output %q lacks the count or the final newline", out)
	}
	var spin bytes.Buffer
	s := NewTo(&spin, 0, "warm-up")
	s.Add(3)
	s.Finish()
}

func TestFinishEndsLine(t *testing.T) {
	var buf bytes.Buffer
	b := NewTo(&buf, 10, "kv")
	b.Add(3)
	b.Finish()
	if out := buf.String(); !strings.HasSuffix(out, "\n") || !strings.Contains(out, "(10/10)") {
		t.Errorf("Finish output %q", out)
	}
}
