package llmhost

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Placement says where a new session's pages go before their first use,
// when its memory is a device.Placer (cpu, cuda). A fresh session's pages
// are all untouched: without placement the first forward pass, or the
// first restore, pays for them one page at a time (a page fault each on a
// host mapping, about 1.5 µs on a VM; a migration each on managed memory).
type Placement uint8

const (
	// PlaceNone leaves every page to its first touch.
	PlaceNone Placement = iota
	// PlaceForPrefill puts the KV cache, activations and logits where the
	// device's kernels use them: a session that will compute its context.
	PlaceForPrefill
	// PlaceForRestore puts activations and logits where the device's
	// kernels use them and the KV cache where the host writes it: a standby
	// session that will receive a restore, whose restored rows then move to
	// the device as they land (Landed).
	PlaceForRestore
)

func (p Placement) String() string {
	switch p {
	case PlaceForPrefill:
		return "prefill"
	case PlaceForRestore:
		return "restore"
	}
	return "none"
}

// place puts a new session's pages where p says: the KV caches kv, and the
// device-only buffers dev.
func place(mem device.Memory, p Placement, kv device.Span, dev []device.Span) error {
	pl, ok := mem.(device.Placer)
	if !ok || p == PlaceNone {
		return nil
	}
	kvAt := device.OnDevice
	if p == PlaceForRestore {
		kvAt = device.OnHost
	}
	if err := pl.Place(dev, device.OnDevice); err != nil {
		return fmt.Errorf("place buffers: %w", err)
	}
	if err := pl.Place([]device.Span{kv}, kvAt); err != nil {
		return fmt.Errorf("place KV cache: %w", err)
	}
	return nil
}

// Landed tells s's memory that the host has just written b, a view of
// s.State() (restored cache rows): on a memory whose kernels read
// elsewhere (cuda managed) they start moving there now, ahead of the next
// forward pass (device.Placer.Wrote). Memories that are not Placers need
// nothing. Use it as a snapshot.State's Landed.
func Landed(s Session, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	mem := s.Memory()
	pl, ok := mem.(device.Placer)
	if !ok {
		return nil
	}
	all := mem.Bytes()
	off := uintptr(unsafe.Pointer(&b[0])) - uintptr(unsafe.Pointer(unsafe.SliceData(all)))
	if len(all) == 0 || off >= uintptr(len(all)) || uintptr(len(b)) > uintptr(len(all))-off {
		return errors.New("landed: bytes are not a view of the session's memory")
	}
	if err := pl.Wrote([]device.Span{{Off: uint64(off), Len: uint64(len(b))}}); err != nil {
		return fmt.Errorf("landed: %w", err)
	}
	return nil
}
