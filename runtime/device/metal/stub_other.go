//go:build !darwin

package metal

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// errNotDarwin is what every entry point returns off darwin.
var errNotDarwin = fmt.Errorf("metal backend: only on darwin: %w", device.ErrNoDevice)

// Device stands in for the Metal device on systems without Metal; Open never
// returns one, and its methods fail with an error wrapping device.ErrNoDevice.
type Device struct{}

// Open always fails off darwin: Metal exists only on Apple systems. The error
// wraps device.ErrNoDevice, so auto-detection can move on to another backend.
func Open() (*Device, error) { return nil, errNotDarwin }

// Info names the backend only.
func (*Device) Info() device.Info { return device.Info{Backend: "metal"} }

// Modes lists the modes the darwin backend supports.
func (*Device) Modes() []device.Mode { return []device.Mode{device.ZeroCopy, device.Copy} }

// NewMemory fails off darwin.
func (*Device) NewMemory(device.Mode, uint64) (device.Memory, error) { return nil, errNotDarwin }

// Close does nothing off darwin.
func (*Device) Close() error { return nil }

var _ device.Device = (*Device)(nil)
