package wasm

import "github.com/wasmgpu/wasmgpu/runtime/device"

// linearMemory adapts a device.Memory to wazero's experimental.LinearMemory:
// Reallocate hands out prefixes of one reservation, so the base never moves,
// and tells the device how much is in use.
type linearMemory struct {
	mem   device.Memory
	freed bool
	err   error // from the device's Close
}

// Reallocate returns the first size bytes of the reservation, or nil (the
// guest's memory.grow fails) when the device refuses the size.
func (l *linearMemory) Reallocate(size uint64) []byte {
	if l.freed {
		return nil
	}
	b := l.mem.Bytes()
	if size > uint64(len(b)) {
		return nil
	}
	if err := l.mem.Grow(size); err != nil {
		return nil
	}
	return b[:size:size]
}

// Free releases the device memory once; later calls do nothing.
func (l *linearMemory) Free() {
	if l.freed {
		return
	}
	l.freed = true
	l.err = l.mem.Close()
}
