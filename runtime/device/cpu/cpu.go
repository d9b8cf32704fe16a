// Package cpu is the device that runs everywhere: kernels are Go code on the
// host's cores, and the guest's linear memory is an ordinary mmap reservation.
//
// In zerocopy mode a kernel works on unsafe.Slice views of the linear memory
// itself. In copy mode every input range is first copied into a staging buffer
// the device owns and every output range is copied back afterwards, which is
// what a sandbox without shared memory must do; the staging buffers are kept
// between calls, so their cost shows up as resident memory, as it would in
// such a sandbox.
package cpu

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/region"
)

// Device is the cpu device. The zero value is not usable; call Open.
type Device struct {
	info device.Info
}

// Open returns the cpu device. It cannot fail on a supported OS.
func Open() (*Device, error) {
	return &Device{info: device.Info{
		Backend: "cpu",
		Name:    cpuModel(),
		Driver:  runtime.Version(),
		Props: map[string]string{
			"cores":      strconv.Itoa(runtime.NumCPU()),
			"gomaxprocs": strconv.Itoa(runtime.GOMAXPROCS(0)),
			"gemm":       "gonum blas32 (pure Go, parallel)",
			"page_size":  strconv.FormatUint(region.PageSize, 10),
		},
	}}, nil
}

// Info describes the host CPU.
func (d *Device) Info() device.Info { return d.info }

// Modes lists zerocopy (the default) and copy.
func (d *Device) Modes() []device.Mode { return []device.Mode{device.ZeroCopy, device.Copy} }

// NewMemory reserves max bytes for a guest's linear memory.
func (d *Device) NewMemory(mode device.Mode, max uint64) (device.Memory, error) {
	if mode != device.ZeroCopy && mode != device.Copy {
		return nil, fmt.Errorf("cpu device: mode %q: %w", mode, device.ErrUnsupportedMode)
	}
	b, err := region.Reserve(max)
	if err != nil {
		return nil, fmt.Errorf("cpu device: %w", err)
	}
	return &Memory{mode: mode, buf: b}, nil
}

// Close does nothing: the cpu device holds no resources of its own.
func (d *Device) Close() error { return nil }

// cpuModel reads the CPU's marketing name, or falls back to the architecture.
func cpuModel() string {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}
