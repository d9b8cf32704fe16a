package llmabi

import (
	"fmt"
	"sync"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi/optable"
)

// Batches: one program run for many guests at once (issue 16). Guests that
// submitted equal programs (equal Keys) run the same calls, each on its own
// memory at its own position. A Batch walks the calls in order and runs
// each by its op's batching class (optable.Batching):
//
//   - PerSequence (rope_kv, attention, kvstore, rope): once per member, on
//     that member's memory, as the member's own call;
//   - Barrier (sync): once per member memory and once on the batch memory;
//   - RowWise (the projections, norms, embed, argmax, the elementwise ops):
//     once for all members. The members' rows are gathered into the batch
//     memory (a scratch device memory of the same device), the op runs
//     there with its row count times the members, and each member's output
//     rows are scattered back to the same spans of its own memory. A device
//     whose batch memory is a BatchRunner runs the call itself instead; one
//     that is a RowCopier moves the rows itself (device copies) rather than
//     through the host.
//
// Every member's calls were validated against that member's memory and
// weights by its own Exec at its own position (Exec.Bind): the batch never
// checks a member's range against another member's memory, it only moves
// bytes between a member's validated spans and the batch memory. The
// batched call is validated again by the device against the batch memory.
// A scratch operand (norm_linear's xb, ...) is never gathered nor
// scattered: its contents in the batch memory may be another member's
// rows, and no member may see them. Operands that are the same span (an
// op in place: rmsnorm's out = x) share one region, so the op sees them as
// the member's call does.
//
// Failures stay with their member. A member whose call fails (a
// PerSequence op's error) gets that error and runs none of its later calls;
// the others go on. A batched RowWise call that fails (a token id outside
// the embedding table in one member's rows, say) is run again member by
// member on their own memories, whose inputs it has not touched, so each
// member gets its own result or error.

// Member is one guest's part of a batched run: its memory and its
// program's calls at its position, validated against that memory and the
// batch's weights (Exec.Bind).
type Member struct {
	Mem   device.Memory // an LLMOps
	Calls []Call
}

// BatchRunner is implemented by a device Memory, used as a batch memory,
// that runs a RowWise call for many memories at once without the generic
// gather into the batch memory and scatter back (on a GPU whose kernels
// can address every guest's memory, managed: device copies or kernels
// reading each member's rows in place).
type BatchRunner interface {
	// RunRows runs the RowWise call calls[k] of each member k, on mems[k]:
	// the same op, weights, scalars and operand lengths in every member,
	// each call validated against its own memory. It must read and write
	// each member's operands at that member's spans in mems[k] and nothing
	// else of it, with the results of running each call alone (up to the
	// device's stated tolerance for many rows), and leave no row of one
	// member in another's memory. An error says the rows were not written:
	// the caller runs the calls one by one instead.
	RunRows(w device.Weights, mems []device.Memory, calls []*Call) error
}

// RowCopier is implemented by a batch memory whose device copies bytes
// between it and the members' memories itself, so that the gather and the
// scatter never move the rows through the host: a GPU whose kernels
// address every guest's memory (cuda managed), where a host copy would
// migrate each page to the host and back. The Batch orders the copies:
// every member is synced before the gather is queued, the batch memory is
// synced after the gather (an op may read an operand on the host), after
// the dispatch and after the scatter, so a member's next op, on its own
// queue, finds its rows in place.
type RowCopier interface {
	// CopyRows queues the copies, each of Len bytes from Src at SrcOff to
	// Dst at DstOff, one of the two memories being this one, every range
	// inside its memory's size. An error says the device cannot copy
	// between these memories (another mode, another device): the Batch
	// then copies on the host, which is always correct.
	CopyRows(rows []RowCopy) error
}

// RowCopy is one copy of a RowCopier.
type RowCopy struct {
	Src, Dst       device.Memory
	SrcOff, DstOff uint64
	Len            uint64
}

// BatchStats count what a Batch did.
type BatchStats struct {
	// RowCalls are RowWise calls run once for several members.
	RowCalls uint64
	// HostCopies are RowCalls whose rows were copied on the host: the
	// batch memory is no RowCopier (cpu), or it refused these memories.
	HostCopies uint64
	// Apart are RowWise calls of several members that ran member by
	// member instead, by why: "differ" (their calls differed in more than
	// their spans' offsets), "scratch" (the batch memory could not hold
	// their rows), "error" (the batched call failed).
	Apart map[string]uint64
}

// Batch runs calls of many members with one batch memory. It is not safe
// for concurrent use.
type Batch struct {
	scratch device.Memory
	ops     device.LLMOps
	w       device.Weights
	runner  BatchRunner // scratch's, or nil
	copier  RowCopier   // scratch's, or nil
	stats   BatchStats
	// per-call working state, kept to avoid allocating per call
	regions []device.Span
	mems    []device.Memory
	calls   []*Call
	copies  []RowCopy
}

// NewBatch returns a Batch that gathers rows into scratch, a memory of the
// members' device (its whole reservation may be used), and runs calls with
// the weights w.
func NewBatch(scratch device.Memory, w device.Weights) (*Batch, error) {
	ops, ok := scratch.(device.LLMOps)
	if !ok {
		return nil, fmt.Errorf("batch memory %T has no LLM kernels", scratch)
	}
	b := &Batch{scratch: scratch, ops: ops, w: w, stats: BatchStats{Apart: map[string]uint64{}}}
	b.runner, _ = scratch.(BatchRunner)
	b.copier, _ = scratch.(RowCopier)
	return b, nil
}

// Stats are the Batch's counts so far (a copy).
func (b *Batch) Stats() BatchStats {
	s := b.stats
	s.Apart = make(map[string]uint64, len(b.stats.Apart))
	for k, v := range b.stats.Apart {
		s.Apart[k] = v
	}
	return s
}

// Run runs every member's calls, call i of every member before call i+1 of
// any, and sets errs[k] to member k's error (nil when all its calls ran).
// The members must hold equal programs' calls (the same count, op by op);
// a member whose calls differ in length from the first's is refused alone.
// A member already failed (errs[k] != nil on entry) is skipped.
func (b *Batch) Run(members []Member, errs []error) {
	if len(members) == 0 {
		return
	}
	n := len(members[0].Calls)
	for k := range members {
		if errs[k] == nil && len(members[k].Calls) != n {
			errs[k] = fmt.Errorf("batched program of %d calls, not the batch's %d", len(members[k].Calls), n)
		}
		if _, ok := members[k].Mem.(device.LLMOps); errs[k] == nil && !ok {
			errs[k] = fmt.Errorf("device memory %T has no LLM kernels", members[k].Mem)
		}
	}
	live := make([]int, 0, len(members))
	for i := range n {
		live = live[:0]
		for k := range members {
			if errs[k] == nil {
				live = append(live, k)
			}
		}
		if len(live) == 0 {
			return
		}
		op := members[live[0]].Calls[i].Op
		l := op.Layout()
		if l != nil && l.Batch == optable.RowWise && len(live) > 1 {
			b.rowWise(members, live, i, errs)
			continue
		}
		for _, k := range live {
			m := &members[k]
			if err := Dispatch(m.Mem.(device.LLMOps), b.w, &m.Calls[i]); err != nil {
				errs[k] = fmt.Errorf("program op %d: %w", i, err)
			}
		}
		if l != nil && l.Batch == optable.Barrier {
			if err := b.scratch.Sync(); err != nil {
				for _, k := range live {
					if errs[k] == nil {
						errs[k] = fmt.Errorf("program op %d: batch memory: %w", i, err)
					}
				}
			}
		}
	}
}

// rowWise runs call i of the live members as one call, or one by one where
// it cannot.
func (b *Batch) rowWise(members []Member, live []int, i int, errs []error) {
	first := &members[live[0]].Calls[i]
	why := ""
	row := rowScalar(first.Op)
	switch {
	case row < 0:
		why = "differ"
	default:
		for _, k := range live[1:] {
			if !sameButOffsets(first, &members[k].Calls[i]) {
				why = "differ"
				break
			}
		}
	}
	if why == "" && b.runner != nil {
		b.mems, b.calls = b.mems[:0], b.calls[:0]
		for _, k := range live {
			b.mems = append(b.mems, members[k].Mem)
			b.calls = append(b.calls, &members[k].Calls[i])
		}
		if err := b.runner.RunRows(b.w, b.mems, b.calls); err != nil {
			why = "error"
		} else {
			b.stats.RowCalls++
			return
		}
	}
	if why == "" {
		var err error
		if why, err = b.gathered(members, live, i, row); err != nil {
			for _, k := range live {
				errs[k] = fmt.Errorf("program op %d, batched: %w", i, err)
			}
			return
		}
	}
	if why == "" {
		b.stats.RowCalls++
		return
	}
	b.stats.Apart[why]++
	for _, k := range live {
		m := &members[k]
		if err := Dispatch(m.Mem.(device.LLMOps), b.w, &m.Calls[i]); err != nil {
			errs[k] = fmt.Errorf("program op %d: %w", i, err)
		}
	}
}

// gathered runs call i of the live members as one call on the batch
// memory: gather, dispatch, scatter. It returns "" when it did, or why not
// ("scratch", "error"), having then written nothing to any member; or an
// error of the device after it may have written part of the members'
// outputs (their calls cannot be run again: an in-out operand would be
// applied twice).
func (b *Batch) gathered(members []Member, live []int, i, row int) (string, error) {
	first := &members[live[0]].Calls[i]
	l := first.Op.Layout()
	nm := uint64(len(live))
	// One region per operand, an operand equal to an earlier one in every
	// member sharing that one's region.
	b.regions = b.regions[:0]
	var end uint64
	for j := range l.Operands {
		if !active(l, first, j) {
			b.regions = append(b.regions, device.Span{})
			continue
		}
		if a := sameSpanAs(members, live, i, j); a >= 0 {
			b.regions = append(b.regions, b.regions[a])
			continue
		}
		ln := first.S[j].Len * nm
		b.regions = append(b.regions, device.Span{Off: end, Len: ln})
		end = (end + ln + 63) &^ 63
	}
	all := b.scratch.Bytes()
	if end > uint64(len(all)) {
		return "scratch", nil
	}
	if end > b.scratch.Size() {
		if err := b.scratch.Grow(end); err != nil {
			return "scratch", nil
		}
	}
	// The members' earlier calls may still be queued on their devices.
	for _, k := range live {
		if err := members[k].Mem.Sync(); err != nil {
			return "error", nil
		}
	}
	b.copies = b.copies[:0]
	for j, r := range b.regions {
		if r.Len == 0 || !reads(l.Operands[j].Role) || sharesEarlier(l, b.regions, j, reads) {
			continue
		}
		w := first.S[j].Len
		for x, k := range live {
			s := members[k].Calls[i].S[j]
			b.copies = append(b.copies, RowCopy{Src: members[k].Mem, SrcOff: s.Off, Dst: b.scratch, DstOff: r.Off + uint64(x)*w, Len: w})
		}
	}
	onDevice, err := b.copy(b.copies, true)
	if err != nil {
		return "error", nil
	}
	c := *first
	for j, r := range b.regions {
		if active(l, first, j) {
			c.S[j] = r
		}
	}
	c.I[row] *= len(live)
	if err := Dispatch(b.ops, b.w, &c); err != nil {
		return "error", nil
	}
	if err := b.scratch.Sync(); err != nil {
		return "error", nil
	}
	b.copies = b.copies[:0]
	for j, r := range b.regions {
		role := l.Operands[j].Role
		if r.Len == 0 || !scattered(role) || sharesEarlier(l, b.regions, j, scattered) {
			continue
		}
		w := first.S[j].Len
		for x, k := range live {
			s := members[k].Calls[i].S[j]
			b.copies = append(b.copies, RowCopy{Src: b.scratch, SrcOff: r.Off + uint64(x)*w, Dst: members[k].Mem, DstOff: s.Off, Len: w})
		}
	}
	scatteredOnDevice, err := b.copy(b.copies, onDevice)
	if err != nil {
		return "", fmt.Errorf("scatter: %w", err)
	}
	if !onDevice || !scatteredOnDevice {
		b.stats.HostCopies++
	}
	return "", nil
}

// copy performs the copies: with the batch memory's RowCopier when it has
// one and tryDevice, then syncing the batch memory; on the host otherwise,
// or when the copier refuses. It reports whether the device copied.
func (b *Batch) copy(rows []RowCopy, tryDevice bool) (bool, error) {
	if b.copier != nil && tryDevice {
		if err := b.copier.CopyRows(rows); err == nil {
			return true, b.scratch.Sync()
		}
		// Refused: wait for whatever it queued, then copy on the host.
		if err := b.scratch.Sync(); err != nil {
			return false, err
		}
	}
	for _, r := range rows {
		copy(r.Dst.Bytes()[r.DstOff:r.DstOff+r.Len], r.Src.Bytes()[r.SrcOff:r.SrcOff+r.Len])
	}
	return false, nil
}

// active reports whether operand j of c is one the call uses (a slot of a
// repeated group beyond its count is not).
func active(l *optable.Layout, c *Call, j int) bool {
	s := l.Operands[j].Slot
	return s < 0 || s < c.Count
}

// sameSpanAs returns the earlier operand that operand j equals exactly in
// every live member, or -1.
func sameSpanAs(members []Member, live []int, i, j int) int {
	for a := range j {
		same := true
		for _, k := range live {
			c := &members[k].Calls[i]
			if c.S[a] != c.S[j] {
				same = false
				break
			}
		}
		if same && members[live[0]].Calls[i].S[j].Len > 0 {
			return a
		}
	}
	return -1
}

// sharesEarlier reports whether region j is also the region of an earlier
// operand whose role has the property is.
func sharesEarlier(l *optable.Layout, regions []device.Span, j int, is func(optable.Role) bool) bool {
	for a := range j {
		if regions[a] == regions[j] && is(l.Operands[a].Role) {
			return true
		}
	}
	return false
}

// reads reports whether an operand of role r is gathered: the op reads it.
func reads(r optable.Role) bool { return r == optable.In || r == optable.InOut }

// scattered reports whether an operand of role r is scattered back: the op
// writes it and its contents are defined afterwards (not scratch).
func scattered(r optable.Role) bool { return r == optable.Out || r == optable.InOut }

// sameButOffsets reports whether a and b are the same call but for their
// operands' offsets: the same op, weights, scalars and operand lengths.
func sameButOffsets(a, b *Call) bool {
	if a.Op != b.Op || a.Count != b.Count || a.W != b.W || a.I != b.I || a.F != b.F || a.KV != b.KV || a.skew != b.skew {
		return false
	}
	for j := range a.S {
		if a.S[j].Len != b.S[j].Len {
			return false
		}
	}
	return true
}

// rowTable holds, by op code, the integer scalar that counts an op's rows
// (every operand's first dimension), or -1 for an op that has none; made
// on first use (never in a guest, which batches nothing: a package-level
// initializer would link the op table's compiler into it).
var rowTable struct {
	once sync.Once
	t    [256]int
}

// rowScalar is the index in Call.I of op's row count, or -1 when op's
// operands do not all have it as their first dimension.
func rowScalar(op Op) int {
	rowTable.once.Do(func() {
		for i := range rowTable.t {
			rowTable.t[i] = -1
		}
		for _, o := range Ops() {
			rowTable.t[o] = findRowScalar(o.Layout())
		}
	})
	return rowTable.t[op]
}

func findRowScalar(l *optable.Layout) int {
	if l == nil || len(l.Operands) == 0 {
		return -1
	}
	for k, s := range l.Ints {
		if s.Kind != optable.Count {
			continue
		}
		all := true
		for _, o := range l.Operands {
			if o.Infer || len(o.Dims) == 0 || o.Dims[0].Sym != s.Sym || o.Dims[0].Div != 1 {
				all = false
				break
			}
		}
		if all {
			return k
		}
	}
	return -1
}
