package safetensors

import "fmt"

// Tensor is one named tensor with its raw little-endian bytes. For a tensor
// from Open, Data is a read-only view into the mapped file: valid until the
// File is closed, and writing to it faults.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// NumElements returns the product of the shape (1 for a scalar).
func (t Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Float32s decodes an F32, BF16, F16 or F64 tensor into a new []float32.
// Meant for tests and reference checks.
func (t Tensor) Float32s() ([]float32, error) {
	v, err := ToFloat32(t.DType, t.Data)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return v, nil
}

// check verifies that Data holds exactly the bytes DType and Shape call for.
func (t Tensor) check() error {
	size := t.DType.Size()
	if size == 0 {
		return fmt.Errorf("tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	n := int64(size)
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("tensor %q: shape %v has a negative dimension", t.Name, t.Shape)
		}
		if d != 0 && n > (1<<62)/int64(d) {
			return fmt.Errorf("tensor %q: shape %v overflows", t.Name, t.Shape)
		}
		n *= int64(d)
	}
	if n != int64(len(t.Data)) {
		return fmt.Errorf("tensor %q: %s %v needs %d bytes, data has %d", t.Name, t.DType, t.Shape, n, len(t.Data))
	}
	return nil
}
