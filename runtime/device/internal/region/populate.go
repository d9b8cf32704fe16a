package region

import (
	"sync/atomic"
	"unsafe"
)

// Populate maps every page of b (a range of a reservation, or of any
// writable private mapping) that is not yet mapped, so that the next write
// to it does not stop on a page fault. The bytes are unchanged: a page never
// touched reads as zeros before and after. b is widened to whole pages,
// which must belong to the same mapping (a reservation is whole pages).
//
// On Linux it asks the kernel to fault the pages in with one call
// (MADV_POPULATE_WRITE, Linux 5.14); elsewhere, or where the kernel refuses,
// it writes each page by adding zero to its first word. Populating costs
// what faulting the pages in does (about 1.5 µs a page on a VM); it moves
// that cost to a moment of the caller's choosing, before a clock starts.
func Populate(b []byte) {
	if len(b) == 0 {
		return
	}
	pages := wholePages(b)
	if populate(pages) != nil {
		touch(pages)
	}
}

// wholePages widens b to the pages it touches.
func wholePages(b []byte) []byte {
	p := unsafe.Pointer(&b[0])
	page := int(PageSize)
	lead := int(uintptr(p) & uintptr(page-1))
	return unsafe.Slice((*byte)(unsafe.Add(p, -lead)), (lead+len(b)+page-1)&^(page-1))
}

// touch writes every page of pages (whole pages) without changing it.
func touch(pages []byte) {
	for i := 0; i < len(pages); i += int(PageSize) {
		atomic.AddUint32((*uint32)(unsafe.Pointer(&pages[i])), 0)
	}
}
