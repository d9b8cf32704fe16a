package cpu

import (
	"sync/atomic"
	"time"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// stopper is what a Memory's kernels poll between chunks (see
// device.KernelLimits): the sandbox's stop flag and the running call's
// deadline. A nil stopper never stops.
type stopper struct {
	flag     *atomic.Bool
	deadline *atomic.Int64
}

// newStopper returns the stopper of l, nil if l sets neither.
func newStopper(l device.KernelLimits) *stopper {
	if l.Stop == nil && l.Deadline == nil {
		return nil
	}
	return &stopper{flag: l.Stop, deadline: l.Deadline}
}

// stopped reports whether the kernels must end: the flag is set, or the
// deadline has passed, which sets the flag.
func (s *stopper) stopped() bool {
	switch {
	case s == nil:
		return false
	case s.flag != nil && s.flag.Load():
		return true
	case s.deadline != nil:
		if d := s.deadline.Load(); d != 0 && time.Now().UnixNano() >= d {
			if s.flag != nil {
				s.flag.Store(true)
			}
			return true
		}
	}
	return false
}
