package wasm

import (
	"errors"
	"sync"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// linearMemory adapts a device.Memory to wazero's experimental.LinearMemory:
// Reallocate hands out prefixes of one reservation, so the base never moves,
// and tells the device how much is in use.
//
// wazero calls Free when the module is closed, and a guest may be closed
// from another goroutine (a deadline, Close) while its code or a kernel
// still runs on this memory: a Free during a call is deferred to the call's
// end (exit), so the memory is never released under running code.
type linearMemory struct {
	mem device.Memory
	// beforeClose releases what the device holds for the memory (the
	// guest's programs) just before the memory is closed; nil: nothing.
	beforeClose func() error
	buf         []byte // the prefix in use: wazero's view of the guest's memory

	mu      sync.Mutex
	inUse   bool // a call runs on the memory
	pending bool // Free was called during the call
	freed   bool
	err     error // from the device's Close
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

// enter marks the start of a call that may touch the memory.
func (l *linearMemory) enter() {
	l.mu.Lock()
	l.inUse = true
	l.mu.Unlock()
}

// exit marks the end of the call, and releases the memory if a Free came
// during it.
func (l *linearMemory) exit() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inUse = false
	if l.pending {
		l.release()
	}
}

// Free releases the device memory once, or at the end of the running call;
// later calls do nothing.
func (l *linearMemory) Free() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inUse {
		l.pending = true
		return
	}
	l.release()
}

func (l *linearMemory) release() {
	if l.freed {
		return
	}
	l.freed, l.buf = true, nil
	var err error
	if l.beforeClose != nil {
		err = l.beforeClose()
	}
	l.err = errors.Join(err, l.mem.Close())
}
