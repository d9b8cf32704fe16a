package cuda

import (
	"errors"
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// Batches of tenants (runtime/tenants, llmabi.Batch): a batch memory
// gathers the rows of many guests' memories, runs a row-wise op once over
// them, and scatters the outputs back. On managed memory every guest's
// memory is device-addressable at its host address, so the rows move with
// device-to-device copies on the batch memory's stream; copied on the host
// instead, each touch would migrate the pages to the host and back.
//
// Ordering is the Batch's (llmabi.RowCopier): the members are synced
// before the gather, the batch memory after it, after the op and after the
// scatter. The managed-mode host I/O (llm_managed.go) stays right: Embed
// reads the token ids on the host after the gather's sync, and Argmax's
// indices land in the batch memory at the sync before the scatter.
//
// Not run: written without a GPU machine (cross-built and vetted only; its
// test, TestBatchRowCopies, skips without a GPU).

var _ llmabi.RowCopier = (*Memory)(nil)

// CopyRows queues the copies on m's stream, device to device. It refuses,
// before queuing any, unless m and every other memory named are open
// managed memories of m's device and every range lies in its memory's
// size: the Batch then copies on the host.
func (m *Memory) CopyRows(rows []llmabi.RowCopy) error {
	if m.closed {
		return errClosed
	}
	d := m.d
	if m.mode != device.Managed || d.drv.cuMemcpyDtoDAsync == 0 {
		return fmt.Errorf("cuda: batch copies need managed memory and cuMemcpyDtoDAsync (memory is %s)", m.mode)
	}
	for i, r := range rows {
		src, ok1 := r.Src.(*Memory)
		dst, ok2 := r.Dst.(*Memory)
		switch {
		case !ok1 || !ok2:
			return fmt.Errorf("cuda: batch copy %d: %T to %T is not between cuda memories", i, r.Src, r.Dst)
		case src != m && dst != m:
			return fmt.Errorf("cuda: batch copy %d does not involve the batch memory", i)
		case src.d != d || dst.d != d || src.mode != device.Managed || dst.mode != device.Managed || src.closed || dst.closed:
			return fmt.Errorf("cuda: batch copy %d: not between open managed memories of one device", i)
		case r.SrcOff > src.size || r.Len > src.size-r.SrcOff || r.DstOff > dst.size || r.Len > dst.size-r.DstOff:
			return fmt.Errorf("cuda: batch copy %d of %d bytes from %d to %d is outside the memories", i, r.Len, r.SrcOff, r.DstOff)
		}
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	var errs []error
	for _, r := range rows {
		if r.Len == 0 {
			continue
		}
		src := r.Src.(*Memory).base + uintptr(r.SrcOff)
		dst := r.Dst.(*Memory).base + uintptr(r.DstOff)
		if err := d.drv.check("cuMemcpyDtoDAsync", call(d.drv.cuMemcpyDtoDAsync, dst, src, uintptr(r.Len), m.stream)); err != nil {
			// Some copies may be queued: the Batch syncs, then copies on the host.
			errs = append(errs, err)
			break
		}
		m.stats.CopiedBytes += r.Len
	}
	return errors.Join(errs...)
}
