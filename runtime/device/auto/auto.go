// Package auto opens a device backend by name, or picks the best one present:
// cuda when libcuda loads and a GPU exists, else metal on a Mac with a Metal
// device, else cpu, which always works. It is the only place that knows every
// backend, so experiments stay independent of them.
package auto

import (
	"errors"
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/device/cuda"
	"github.com/wasmgpu/wasmgpu/runtime/device/metal"
)

// Backends lists the names Open accepts besides "auto".
var Backends = []string{"cpu", "cuda", "metal"}

// Open opens backend name ("auto", "cpu", "cuda" or "metal"). For "auto" it
// returns, with the device, why each better backend was passed over.
func Open(name string) (device.Device, []string, error) {
	switch name {
	case "cpu":
		d, err := cpu.Open()
		return d, nil, err
	case "cuda":
		d, err := cuda.Open()
		if err != nil {
			return nil, nil, fmt.Errorf("open cuda backend: %w", err)
		}
		return d, nil, nil
	case "metal":
		d, err := metal.Open()
		if err != nil {
			return nil, nil, fmt.Errorf("open metal backend: %w", err)
		}
		return d, nil, nil
	case "auto", "":
		var skipped []string
		if d, err := cuda.Open(); err == nil {
			return d, nil, nil
		} else {
			skipped = append(skipped, "cuda: "+err.Error())
			if !errors.Is(err, device.ErrNoDevice) {
				// A GPU is present but failed to open: say so rather than
				// silently measuring something else.
				return nil, skipped, fmt.Errorf("open cuda backend: %w", err)
			}
		}
		if d, err := metal.Open(); err == nil {
			return d, skipped, nil
		} else {
			skipped = append(skipped, "metal: "+err.Error())
		}
		d, err := cpu.Open()
		return d, skipped, err
	}
	return nil, nil, fmt.Errorf("unknown backend %q (want auto, cpu, cuda or metal)", name)
}
