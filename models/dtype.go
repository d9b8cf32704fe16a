package models

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

// DType is a tensor element type, spelled as in safetensors headers.
type DType = safetensors.DType

// The weight dtypes models supports.
const (
	BF16 = safetensors.BF16
	F16  = safetensors.F16
	F32  = safetensors.F32
)

// ParseWeightDType accepts a weight dtype by safetensors name (BF16, F16,
// F32) or torch name (bfloat16, float16, float32).
func ParseWeightDType(s string) (DType, error) {
	switch s {
	case "BF16", "bf16", "bfloat16":
		return BF16, nil
	case "F16", "f16", "fp16", "float16":
		return F16, nil
	case "F32", "f32", "fp32", "float32":
		return F32, nil
	}
	return "", fmt.Errorf("unsupported weight dtype %q (want BF16, F16 or F32)", s)
}

// torchDType returns the torch_dtype spelling of a weight dtype.
func torchDType(d DType) string {
	switch d {
	case BF16:
		return "bfloat16"
	case F16:
		return "float16"
	}
	return "float32"
}

// BF16ToF32 widens a bfloat16 to float32 (exact).
func BF16ToF32(h uint16) float32 { return safetensors.BF16ToF32(h) }

// F32ToBF16 narrows a float32 to bfloat16, rounding to nearest even like torch.
func F32ToBF16(f float32) uint16 { return safetensors.F32ToBF16(f) }

// F16ToF32 widens an IEEE half to float32 (exact, subnormals included).
func F16ToF32(h uint16) float32 { return safetensors.F16ToF32(h) }

// F32ToF16 narrows a float32 to IEEE half, rounding to nearest even.
func F32ToF16(f float32) uint16 { return safetensors.F32ToF16(f) }

// ToFloat32 decodes little-endian F32, BF16 or F16 bytes into float32s.
func ToFloat32(dt DType, data []byte) ([]float32, error) { return safetensors.ToFloat32(dt, data) }

// FromFloat32 encodes float32s as little-endian F32, BF16 or F16 bytes.
func FromFloat32(dt DType, v []float32) ([]byte, error) { return safetensors.FromFloat32(dt, v) }
