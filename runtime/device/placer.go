package device

// Location is where a Memory's pages are placed: where the device's kernels
// use them, or where the host reads and writes them. On a device whose
// kernels use host memory in place (cpu, Apple's unified memory, cuda's
// mapped mode) the two are the same place.
type Location uint8

const (
	// OnDevice is where the device's kernels read and write.
	OnDevice Location = iota
	// OnHost is where the host reads and writes (a restore's writes).
	OnHost
)

func (l Location) String() string {
	if l == OnHost {
		return "host"
	}
	return "device"
}

// Placer is an optional interface of Memory, for memory whose pages cost
// something the first time they are used: a page fault per page of a fresh
// host mapping, a migration per page of managed memory that lives on one
// side at a time. It lets the runtime pay that before the clock starts (a
// fresh guest's buffers at instantiation) or in bulk rather than page by
// page (restored bytes), so that the first forward pass after a restore
// costs what any forward pass costs.
//
// Both methods are advice: they never change a byte of the memory, and a
// Memory that ignores them is still correct, only slower on first use. The
// spans must lie within Size. Like the Memory's other methods, they are not
// safe for concurrent use.
type Placer interface {
	// Place backs spans with pages at loc ahead of their first use there,
	// and returns once they are: cpu maps (populates) the pages, cuda's
	// managed memory migrates or populates them on the GPU or the host.
	Place(spans []Span, at Location) error
	// Wrote tells the Memory that the host has just written spans that the
	// device's kernels use next (a restore). It queues moving them to where
	// the kernels read them, ahead of the Memory's next kernel, and returns
	// without waiting. Where kernels use host memory in place there is
	// nothing to do.
	Wrote(spans []Span) error
}
