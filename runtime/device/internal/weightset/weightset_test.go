package weightset

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

func TestSet(t *testing.T) {
	data := make([]byte, 32)
	ts := []device.WeightTensor{
		{Name: "embed", DType: "BF16", Shape: []int{4, 4}, Data: data},
		{Name: "norm", DType: "F32", Shape: []int{4}, Data: make([]byte, 16)},
		{Name: "lm_head", DType: "BF16", Shape: []int{4, 4}, Data: data}, // tied: the same bytes
	}
	s, err := New("test", ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts[1].Shape[0] = 99 // the set keeps its own copy of each shape
	if got, ok := s.Tensor(1); !ok || got.Shape[0] != 4 {
		t.Fatalf("tensor 1: %+v %v", got, ok)
	}
	if _, ok := s.Tensor(3); ok {
		t.Fatal("tensor 3 of 3 found")
	}
	if got := s.Owners(); !slices.Equal(got, []int{0, 1, 0}) {
		t.Fatalf("owners %v, want [0 1 0]", got)
	}
	s.SetDeviceBytes(48)
	if s.DeviceBytes() != 48 || !s.Close() || s.Close() || s.DeviceBytes() != 0 {
		t.Fatal("close: device bytes or close twice")
	}
	if _, ok := s.Tensor(0); ok {
		t.Fatal("tensor of a closed set found")
	}
}

func TestNewRefuses(t *testing.T) {
	ok := device.WeightTensor{Name: "ok", DType: "F32", Shape: []int{2}, Data: make([]byte, 8)}
	for _, c := range []struct {
		t     device.WeightTensor
		check func(device.WeightTensor) error
		want  string
	}{
		{device.WeightTensor{Name: "i8", DType: "I8", Shape: []int{2}, Data: make([]byte, 2)}, nil, `tensor 1: i8: dtype "I8"`},
		{device.WeightTensor{Name: "short", DType: "F32", Shape: []int{3}, Data: make([]byte, 8)}, nil, "holds 8 bytes, want 12"},
		{device.WeightTensor{Name: "zero", DType: "F32", Shape: []int{0}}, nil, "bad shape"},
		{ok, func(device.WeightTensor) error { return errors.New("too big for us") }, "tensor 0: ok: too big for us"},
	} {
		_, err := New("test", []device.WeightTensor{ok, c.t}, c.check)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "test: load weights: ") {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
}
