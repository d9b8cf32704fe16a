package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// BF16ToF32 widens a bfloat16 (the top 16 bits of a float32) to float32.
// It is exact for every input, NaN payloads included.
func BF16ToF32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// F32ToBF16 narrows a float32 to bfloat16 rounding to nearest, ties to even,
// bit for bit as PyTorch does (c10::BFloat16): every NaN becomes the
// canonical quiet NaN 0x7FC0, and values beyond the bfloat16 range round to
// infinity.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return 0x7fc0
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// F16ToF32 widens an IEEE 754 half-precision value to float32. It is exact for
// every input, subnormals, infinities and NaN payloads included.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal half: value = man * 2^-24, a normal float32.
	e := uint32(113) // exponent of 2^-14, decremented while normalizing
	for man&0x400 == 0 {
		man <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
}

// F32ToF16 narrows a float32 to IEEE 754 half precision, rounding to nearest,
// ties to even. Values beyond ±65504 (after rounding) become infinity, values
// below the smallest subnormal become signed zero, NaN stays NaN (quieted).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(man>>13)
	}
	e := exp - 127 + 15 // rebias
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal (or zero) half. Shift the full significand (with the
		// implicit 1) right so it counts units of 2^-24, rounding to even.
		if e < -10 {
			return sign // below half the smallest subnormal: zero
		}
		m := man | 0x800000
		shift := uint32(14 - e) // 13 for the mantissa width, 1-e to denormalize
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++ // may carry into the smallest normal: correct encoding
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // a carry into the exponent is right, up to infinity
	}
	return sign | uint16(r)
}

// ToFloat32 decodes little-endian F32, BF16, F16 or F64 data into float32s.
// It is meant for tests and reference checks, not hot paths.
func ToFloat32(dt DType, data []byte) ([]float32, error) {
	size := dt.Size()
	if size == 0 {
		return nil, fmt.Errorf("to float32: unknown dtype %q", dt)
	}
	if len(data)%size != 0 {
		return nil, fmt.Errorf("to float32: %d bytes is not a whole number of %s elements", len(data), dt)
	}
	out := make([]float32, len(data)/size)
	switch dt {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = BF16ToF32(binary.LittleEndian.Uint16(data[2*i:]))
		}
	case F16:
		for i := range out {
			out[i] = F16ToF32(binary.LittleEndian.Uint16(data[2*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:])))
		}
	default:
		return nil, fmt.Errorf("to float32: dtype %s is not a float type", dt)
	}
	return out, nil
}

// FromFloat32 encodes float32s as little-endian F32, BF16 or F16 data,
// rounding to nearest even where the dtype is narrower.
func FromFloat32(dt DType, values []float32) ([]byte, error) {
	switch dt {
	case F32:
		out := make([]byte, 4*len(values))
		for i, v := range values {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
		return out, nil
	case BF16:
		out := make([]byte, 2*len(values))
		for i, v := range values {
			binary.LittleEndian.PutUint16(out[2*i:], F32ToBF16(v))
		}
		return out, nil
	case F16:
		out := make([]byte, 2*len(values))
		for i, v := range values {
			binary.LittleEndian.PutUint16(out[2*i:], F32ToF16(v))
		}
		return out, nil
	}
	return nil, fmt.Errorf("from float32: unsupported dtype %q (want F32, BF16 or F16)", dt)
}
