package spec

import (
	"strings"
	"testing"
)

func TestSource(t *testing.T) {
	type cfg struct {
		Seed int `yaml:"seed"`
		N    int `yaml:"n"`
	}
	path := "s.yaml"
	var c cfg
	src, err := Parse(path, []byte("seed: 1\nn: -2\n"), &c, "$.seed", "$.n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Seed != 1 || c.N != -2 || src.Path != path {
		t.Fatalf("decoded %+v from %s", c, src.Path)
	}
	if err := src.Errorf("$.n", "must be ≥ %d, got %d", 0, c.N); err == nil || !strings.Contains(err.Error(), path+":2") || !strings.Contains(err.Error(), `"n": must be ≥ 0, got -2`) {
		t.Fatalf("Errorf: %v", err)
	}
	if _, err := Parse("m.yaml", []byte("seed: 1\n"), &c, "$.seed", "$.n"); err == nil || !strings.Contains(err.Error(), `"n"`) || !strings.Contains(err.Error(), "required") {
		t.Fatalf("missing field: %v", err)
	}
	if _, err := Parse("u.yaml", []byte("seed: 1\nm: 2\n"), &c); err == nil || !strings.Contains(err.Error(), "u.yaml:2") {
		t.Fatalf("unknown field: %v", err)
	}
}
