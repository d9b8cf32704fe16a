package wasm

import "github.com/wasmgpu/wasmgpu/runtime/device"

// linearMemory adapts a device.Memory to wazero's experimental.LinearMemory:
// Reallocate hands out prefixes of one reservation, so the base never moves,
// and tells the device how much is in use.
type linearMemory struct {
	mem   device.Memory
	buf   []byte // the prefix in use: wazero's view of the guest's memory
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
	l.buf = b[:size:size]
	return l.buf
}

// size is the bytes in use, 0 for a guest without memory or once freed. It
// is 64-bit: a 4 GiB memory's size does not fit wazero's uint32 Size.
func (l *linearMemory) size() uint64 { return uint64(len(l.buf)) }

// Free releases the device memory once; later calls do nothing.
func (l *linearMemory) Free() {
	if l.freed {
		return
	}
	l.freed, l.buf = true, nil
	l.err = l.mem.Close()
}
