// Package device defines what a compute device offers the runtime: a home for a
// guest's linear memory that the device can see in one of several memory modes,
// and kernels that run on byte ranges of that memory.
//
// The experiments never talk to a backend directly. They open a Device
// (cpu, cuda or metal), ask it for a Memory in a Mode, hand the Memory's bytes
// to the Wasm runtime as the guest's linear memory, and call kernels with
// offsets into it. Whether a kernel reads the guest's bytes in place or
// through a staging copy is the Mode's business, and the Memory reports which
// addresses its kernels actually touched so an experiment can prove it.
package device

import (
	"errors"
	"fmt"
	"time"
)

// Mode names how a device sees a guest's linear memory.
type Mode string

// The memory modes. Each backend supports a subset; Device.Modes lists it.
const (
	// Copy stages every input range into a separate buffer the device owns and
	// copies every output range back: what a sandbox without shared memory must do.
	Copy Mode = "copy"
	// ZeroCopy runs kernels on the linear memory in place (cpu, metal).
	ZeroCopy Mode = "zerocopy"
	// Mapped registers the linear memory with the GPU, which reads and writes it
	// in place over the bus (cuda: cuMemHostRegister with DEVICEMAP).
	Mapped Mode = "mapped"
	// Managed makes the linear memory itself managed (unified) memory that the
	// driver migrates between host and device on touch (cuda: cuMemAllocManaged).
	Managed Mode = "managed"
	// Resident keeps a device-memory mirror of the region; kernels run on the
	// mirror and data moves only on explicit Upload and Download. It is the
	// ceiling an experiment compares the other modes against, not a sandbox mode.
	Resident Mode = "resident"
)

// ParseMode turns a mode name from a spec or flag into a Mode.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Copy, ZeroCopy, Mapped, Managed, Resident:
		return m, nil
	}
	return "", fmt.Errorf("unknown memory mode %q (want copy, zerocopy, mapped, managed or resident)", s)
}

// Info describes a device for results provenance.
type Info struct {
	Backend string            `json:"backend"`          // "cpu", "cuda", "metal"
	Name    string            `json:"name"`             // CPU model or GPU name
	Driver  string            `json:"driver,omitempty"` // driver or OS version
	Props   map[string]string `json:"props,omitempty"`  // backend facts: memory, bus, cores, bandwidths measured
}

// Device is one compute device. A Device is safe for use by one goroutine at a
// time per Memory; backends that need a locked OS thread own it internally.
type Device interface {
	// Info describes the device.
	Info() Info
	// Modes lists the memory modes the device supports, the default first.
	Modes() []Mode
	// NewMemory reserves max bytes of address space for a guest's linear
	// memory, usable by this device in mode. The returned Memory's base address
	// never moves; only its first size bytes (see Grow) are in use.
	NewMemory(mode Mode, max uint64) (Memory, error)
	// Close releases the device. Memories must be closed first.
	Close() error
}

// Span is a byte range [Off, Off+Len) of a Memory.
type Span struct {
	Off uint64
	Len uint64
}

// End is the first byte after the span.
func (s Span) End() uint64 { return s.Off + s.Len }

// Overlaps reports whether two non-empty spans share a byte.
func (s Span) Overlaps(t Span) bool {
	return s.Len > 0 && t.Len > 0 && s.Off < t.End() && t.Off < s.End()
}

// KernelReport says what one synchronous kernel call did.
type KernelReport struct {
	// DeviceTime is the kernel's time measured by the device (GPU events), or
	// the host wall time of the computation where the device cannot time itself.
	DeviceTime time.Duration
	// Addrs are the addresses the kernel read and wrote for each operand, in
	// the order of the call's arguments. In a zero-copy mode they equal the
	// linear memory's base plus the guest's offsets; in copy mode they are the
	// staging buffers'.
	Addrs []uintptr
}

// Memory is a guest's linear memory as one device sees it, in one mode.
type Memory interface {
	// Mode is the memory mode this Memory was made in.
	Mode() Mode
	// Bytes is the whole reservation (len == max); the Wasm runtime hands out
	// prefixes of it. Its base address never changes.
	Bytes() []byte
	// Grow tells the device that the first size bytes are now in use (the
	// guest's memory.grow). An error makes the grow fail in the guest.
	Grow(size uint64) error
	// Size is the number of bytes in use.
	Size() uint64
	// MatMul computes C = A·B for row-major float32 matrices A (m×k), B (k×n)
	// and C (m×n) stored at the given spans, and returns when C is in place in
	// the linear memory. Spans are checked against Size; C may not overlap A or B.
	MatMul(a, b, c Span, m, n, k int) (KernelReport, error)
	// Sync waits for all work queued on this Memory.
	Sync() error
	// Stats reports the memory this Memory made the host and device allocate
	// beyond the linear memory itself, and the bytes it copied.
	Stats() Stats
	// Close releases the reservation and everything the device made for it.
	Close() error
}

// Stats counts what a Memory cost beyond the guest's own bytes.
type Stats struct {
	StagingBytes  uint64 `json:"staging_bytes"`  // host or device buffers made for copies
	DeviceBytes   uint64 `json:"device_bytes"`   // device memory allocated
	PinnedBytes   uint64 `json:"pinned_bytes"`   // host memory registered or pinned
	CopiedBytes   uint64 `json:"copied_bytes"`   // bytes moved by copies so far
	KernelsLaunch uint64 `json:"kernels_launch"` // kernel calls so far
}

// Residenter is implemented by Memories in Resident mode: the experiment moves
// data between the linear memory and the device mirror outside timed regions.
type Residenter interface {
	Upload(s Span) error
	Download(s Span) error
}

// ErrUnsupportedMode is returned by NewMemory for a mode the device lacks.
var ErrUnsupportedMode = errors.New("memory mode not supported by this device")

// ErrNoDevice is returned when a backend finds no usable device (no GPU, no
// driver library, not this operating system).
var ErrNoDevice = errors.New("no device")

// CheckSpans validates kernel operand spans against the bytes in use, in
// 64-bit arithmetic, and rejects an output that overlaps an input. Backends
// call it before touching memory; the Wasm host has checked already, but a
// native caller has not.
func CheckSpans(size uint64, inputs []Span, outputs []Span) error {
	check := func(kind string, i int, s Span) error {
		end := s.Off + s.Len
		if end < s.Off || end > size {
			return fmt.Errorf("%s %d [%d, +%d) outside memory of %d bytes", kind, i, s.Off, s.Len, size)
		}
		return nil
	}
	for i, s := range inputs {
		if err := check("input", i, s); err != nil {
			return err
		}
	}
	for i, s := range outputs {
		if err := check("output", i, s); err != nil {
			return err
		}
		for j, in := range inputs {
			if s.Overlaps(in) {
				return fmt.Errorf("output %d [%d, +%d) overlaps input %d [%d, +%d)", i, s.Off, s.Len, j, in.Off, in.Len)
			}
		}
		for j, o := range outputs[:i] {
			if s.Overlaps(o) {
				return fmt.Errorf("output %d [%d, +%d) overlaps output %d [%d, +%d)", i, s.Off, s.Len, j, o.Off, o.Len)
			}
		}
	}
	return nil
}

// BandwidthMeter is implemented by devices that can measure their own memory
// bandwidth. MemoryBandwidth returns named rates in bytes per second; the key
// "weights" is the typical rate (a median or mean of passes) at which kernels
// read weights (device memory on a GPU, host memory on the cpu), the ceiling
// of a decode step. A meter that keeps its passes apart also reports the
// fastest as "weights_best".
type BandwidthMeter interface {
	MemoryBandwidth() (map[string]float64, error)
}
