package metal

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// check.go holds the backend's pure decisions, kept free of build tags so
// they are tested on every system, not only on a Mac.

// checkGemm validates a MatMul call before any memory is touched: positive
// sizes, element counts that fit in uint32 (the MSL kernels index with
// uint), spans of exactly the matrices' sizes, 4-byte aligned offsets (MPS
// and setBuffer:offset:atIndex: read float32 at those offsets), spans inside
// the bytes in use, and C overlapping neither input.
func checkGemm(size uint64, a, b, c device.Span, rows, cols, inner int) (m, n, k uint, err error) {
	if rows <= 0 || cols <= 0 || inner <= 0 {
		return 0, 0, 0, fmt.Errorf("dimensions %d×%d×%d must be positive", rows, cols, inner)
	}
	for _, s := range []struct {
		name string
		span device.Span
		r, c int
	}{{"A", a, rows, inner}, {"B", b, inner, cols}, {"C", c, rows, cols}} {
		if uint64(s.r) > math.MaxUint32 || uint64(s.c) > math.MaxUint32 || uint64(s.r)*uint64(s.c) > math.MaxUint32 {
			return 0, 0, 0, fmt.Errorf("%s is %d×%d: more than 2^32-1 elements", s.name, s.r, s.c)
		}
		if want := uint64(s.r) * uint64(s.c) * 4; s.span.Len != want {
			return 0, 0, 0, fmt.Errorf("%s span is %d bytes, want %d for %d×%d float32", s.name, s.span.Len, want, s.r, s.c)
		}
		if s.span.Off%4 != 0 {
			return 0, 0, 0, fmt.Errorf("%s offset %d is not a multiple of 4 (float32 alignment)", s.name, s.span.Off)
		}
	}
	if err := device.CheckSpans(size, []device.Span{a, b}, []device.Span{c}); err != nil {
		return 0, 0, 0, err
	}
	return uint(rows), uint(cols), uint(inner), nil
}

// mslVersionFor picks the MSL version for a macOS product version ("14.5"):
// 3.0 from macOS 13 on, 2.4 on macOS 12. The kernels are written in the
// common subset of both. An unreadable version is taken to be a current one.
func mslVersionFor(product string) (major, minor uint, err error) {
	majorStr, _, _ := strings.Cut(product, ".")
	osMajor, convErr := strconv.Atoi(majorStr)
	switch {
	case convErr != nil || osMajor >= 13:
		return 3, 0, nil
	case osMajor == 12:
		return 2, 4, nil
	default:
		return 0, 0, fmt.Errorf("metal: macOS %s is too old: the backend needs macOS 12 (MSL 2.4) or later", product)
	}
}
