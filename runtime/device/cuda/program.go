package cuda

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// A program is a guest's token step — the sequence of op calls one forward
// pass and its argmax make — validated once and run many times (issue 14).
// Some words of its calls depend on run parameters (the position, and what
// follows from it: the token id's offset). The cuda backend runs it as a
// CUDA graph: recorded once by stream capture (program_graph.go), launched
// per run with one cuGraphLaunch. A graph's kernel arguments are fixed, so
// what changes per run reaches the kernels through a small parameter block
// in device memory, rewritten before each launch by a copy that is the
// graph's first node:
//
//   - each op's position (the "pos" scalar of rope, kvstore, attention and
//     rope_kv) has a slot there, which those kernels read (run_pos in
//     kernels/llm_common.cuh) instead of their pos argument; their launch
//     shapes depend only on the caches' sizes (llm_attention.go);
//   - embed's token ids are read on the host, checked against the table
//     and copied there; the embed kernel reads them from it.
//
// Any other parameter-dependent word is baked into the graph: a run whose
// baked words differ from every recorded graph's records one more (at most
// maxProgramGraphs, then all are dropped and recording starts over).
//
// A program's first run at a new set of baked words queues its ops one by
// one, exactly as a graph will replay them (sizing the program's own
// scratch buffers), then records the graph without running it. Copy mode,
// a driver without graphs, or a program whose recording fails (an op that
// must synchronize, say) runs its ops one by one every time (eagerReason
// says why); the results are the same.
//
// A guest's or engine's recorded step (llmabi.Program) reaches it through
// llmabi.ProgramRunner (llm_program.go), with the position as the one run
// parameter; NewProgram and Run take any number of parameters.

// PatchKind is which word of a call a Patch sets.
type PatchKind uint8

const (
	// PatchScalar sets integer scalar Index of the call (llmabi.Call.I).
	PatchScalar PatchKind = iota
	// PatchOffset sets the offset of operand Index (llmabi.Call.S[Index].Off).
	PatchOffset
)

// Patch makes one word of a program's call depend on a run parameter: at
// a run with parameters p the word is its recorded value plus
// Mul·(p[Param] − base[Param]), base being the parameters the program was
// recorded at. A decode step's position patches are Mul 1, its token
// offset's Mul 4.
type Patch struct {
	Call  int // index of the call in the program
	Kind  PatchKind
	Index int // which scalar or operand
	Param int // which run parameter
	Mul   int64
}

// programGraphs is whether programs record CUDA graphs: WASMGPU_CUDA_GRAPHS=0
// runs them op by op (one host call a token still), for comparison and as
// a way around a driver whose graphs misbehave.
var programGraphs = os.Getenv("WASMGPU_CUDA_GRAPHS") != "0"

// Limits of a program, against hostile or broken inputs.
const (
	maxProgramCalls   = 1 << 16
	maxProgramParams  = 16
	maxProgramGraphs  = 8
	maxProgramIDs     = 1 << 16 // token ids all of a program's embeds read, in total
	programBlockAlign = 256
)

// slotKind is how a patched word reaches the kernels.
type slotKind uint8

const (
	slotBaked slotKind = iota // recorded into the graph: a change records another
	slotPos                   // a position slot in the parameter block
	slotIDs                   // embed's token offset: ids copied into the parameter block
)

// Program is a validated token step bound to one Memory and one set of
// weights. Use it from the Memory's goroutine; Close it (or the Memory)
// when done.
type Program struct {
	m     *Memory
	w     device.Weights
	cw    *Weights      // w, when loaded by this device (nil only in tests without a GPU)
	calls []llmabi.Call // as recorded
	base  []int64       // the parameters they were recorded at
	pats  []Patch
	kinds []slotKind // per patch
	cur   []llmabi.Call
	// patched lists the calls a patch touches, validated again at each run.
	patched []int

	posSlot []int // per call: its position slot, or -1
	idsAt   []int // per call: the first of its ids in the block, or -1
	idsN    []int // per call: its number of ids
	nSlots  int
	nIDs    int
	hasSync bool
	argmax  int // the call index of its host-side argmax (managed, hostio), or -1

	blockBytes uint64
	hostBlock  []byte  // the parameter block as the next run writes it (pinned)
	hostAddr   uintptr // its address
	devBlock   uint64  // the parameter block on the device

	// The program's own buffers, in place of the Memory's while its ops are
	// queued: a graph keeps their addresses, so nothing else may reallocate
	// them.
	scratch, parts devBuf
	out            hostBuf

	graphs      map[string]*graphExec
	done        uintptr // event recorded after each launch: the host block is free again
	launched    bool    // an event is pending
	eagerReason error   // why runs queue their ops one by one; nil while graphs are possible
	pdl         bool    // graphs are recorded with programmatic dependent launch
	closed      bool

	stats ProgramStats
}

// ProgramStats counts what a program's runs did.
type ProgramStats struct {
	Runs, GraphRuns, EagerRuns, Recorded uint64 // runs; of them launched as a graph, queued op by op; graphs recorded
	KernelsPerGraph                      int    // kernel launches a graph holds (the last recorded)
}

// recording is set on a Memory while a program's ops are queued (its eager
// runs and its capture): the op methods then take positions and token ids
// from the program's parameter block.
type recording struct {
	posp      uint64 // device address of the current op's position slot; 0 for none
	ids       uint64 // device address of the current embed's token ids
	capturing bool   // queued ops are being recorded, not run: no sync, no allocation
}

// posSlot is the device address the current op reads its position from,
// or 0 outside a program: the kernels' posp argument.
func (m *Memory) posSlot() uint64 {
	if r := m.llm.rec; r != nil {
		return r.posp
	}
	return 0
}

// NewProgram validates calls — a token step recorded at parameters base,
// with patches saying which words follow the parameters — against the
// Memory and the weights, and prepares to run it. Every call must pass
// llmabi's validation as recorded (memory only grows, so it stays valid);
// patched calls are validated again at each run. Errors name the call by
// its index and op.
func (m *Memory) NewProgram(w device.Weights, calls []llmabi.Call, base []int64, patches []Patch) (*Program, error) {
	if m.closed {
		return nil, errClosed
	}
	cw, ok := w.(*Weights)
	if !ok || cw.d != m.d {
		return nil, errors.New("cuda: program: weights were not loaded by this cuda device")
	}
	p, err := m.planProgram(w, calls, base, patches)
	if err != nil {
		return nil, err
	}
	p.cw = cw
	if err := p.allocBlock(); err != nil {
		if m.d.enter() == nil {
			p.free()
			m.d.leave()
		}
		return nil, fmt.Errorf("cuda: program: %w", err)
	}
	m.programs = append(m.programs, p)
	return p, nil
}

// planProgram checks a program and lays it out (NewProgram without the
// device's allocations, which the tests without a GPU call).
func (m *Memory) planProgram(w device.Weights, calls []llmabi.Call, base []int64, patches []Patch) (*Program, error) {
	switch {
	case len(calls) == 0:
		return nil, errors.New("cuda: program: no calls")
	case len(calls) > maxProgramCalls:
		return nil, fmt.Errorf("cuda: program: %d calls, at most %d", len(calls), maxProgramCalls)
	case len(base) > maxProgramParams:
		return nil, fmt.Errorf("cuda: program: %d parameters, at most %d", len(base), maxProgramParams)
	case len(patches) > 8*len(calls):
		return nil, fmt.Errorf("cuda: program: %d patches for %d calls", len(patches), len(calls))
	}
	p := &Program{m: m, w: w, calls: append([]llmabi.Call(nil), calls...), base: append([]int64(nil), base...),
		pats: append([]Patch(nil), patches...), argmax: -1, graphs: map[string]*graphExec{}}
	p.cur = append([]llmabi.Call(nil), p.calls...)
	for i := range p.calls {
		if err := p.calls[i].Validate(m.size, w); err != nil {
			return nil, fmt.Errorf("cuda: program op %d: %w", i, err)
		}
	}
	if err := p.classify(); err != nil {
		return nil, fmt.Errorf("cuda: program: %w", err)
	}
	return p, nil
}

// classify checks the patches and decides how each reaches the kernels,
// lays out the parameter block and finds the program's syncs and argmax.
func (p *Program) classify() error {
	n := len(p.calls)
	p.posSlot, p.idsAt, p.idsN = make([]int, n), make([]int, n), make([]int, n)
	for i := range n {
		p.posSlot[i], p.idsAt[i] = -1, -1
	}
	p.kinds = make([]slotKind, len(p.pats))
	touched := map[int]bool{}
	for k, pt := range p.pats {
		if pt.Call < 0 || pt.Call >= n {
			return fmt.Errorf("patch %d: call %d is not in the program's %d", k, pt.Call, n)
		}
		if pt.Param < 0 || pt.Param >= len(p.base) {
			return fmt.Errorf("patch %d (op %d): parameter %d is not one of %d", k, pt.Call, pt.Param, len(p.base))
		}
		if pt.Mul == 0 || pt.Mul > 1<<32 || pt.Mul < -(1<<32) {
			return fmt.Errorf("patch %d (op %d): multiplier %d must be nonzero and within ±2^32", k, pt.Call, pt.Mul)
		}
		c := &p.calls[pt.Call]
		l := c.Op.Layout()
		switch pt.Kind {
		case PatchScalar:
			if pt.Index < 0 || pt.Index >= len(l.Ints) {
				return fmt.Errorf("patch %d (op %d, %s): %s has no integer scalar %d", k, pt.Call, c.Op, c.Op, pt.Index)
			}
			if l.Ints[pt.Index].Name == "pos" && readsRunPos(c.Op) {
				p.kinds[k] = slotPos
			}
		case PatchOffset:
			if pt.Index < 0 || pt.Index >= len(l.Operands) {
				return fmt.Errorf("patch %d (op %d, %s): %s has no operand %d", k, pt.Call, c.Op, c.Op, pt.Index)
			}
			if c.Op == llmabi.OpEmbed && pt.Index == 0 {
				p.kinds[k] = slotIDs
			}
		default:
			return fmt.Errorf("patch %d (op %d): unknown kind %d", k, pt.Call, pt.Kind)
		}
		touched[pt.Call] = true
	}
	for i := range n {
		if touched[i] {
			p.patched = append(p.patched, i)
		}
	}
	// A call's position must come from one patch; an embed whose count is
	// patched keeps its ids in the graph (a baked word).
	for k, pt := range p.pats {
		switch p.kinds[k] {
		case slotPos:
			if p.posSlot[pt.Call] >= 0 {
				return fmt.Errorf("op %d (%s): its position is patched twice", pt.Call, p.calls[pt.Call].Op)
			}
			p.posSlot[pt.Call] = p.nSlots
			p.nSlots++
		case slotIDs:
			c := &p.calls[pt.Call]
			if p.idsAt[pt.Call] >= 0 {
				return fmt.Errorf("op %d (embed): its token offset is patched twice", pt.Call)
			}
			if p.patchesScalar(pt.Call) {
				p.kinds[k] = slotBaked
				continue
			}
			p.idsAt[pt.Call], p.idsN[pt.Call] = p.nIDs, c.I[0]
			p.nIDs += c.I[0]
			if p.nIDs > maxProgramIDs {
				return fmt.Errorf("op %d (embed): the program's embeds read %d token ids, at most %d", pt.Call, p.nIDs, maxProgramIDs)
			}
		}
	}
	argmaxes := 0
	for i := range p.calls {
		switch p.calls[i].Op {
		case llmabi.OpSync:
			p.hasSync = true
		case llmabi.OpArgmax:
			argmaxes++
			p.argmax = i
		}
	}
	if !p.m.hostIO() {
		p.argmax = -1
	} else if argmaxes > 1 {
		p.argmax = -1
		p.eagerReason = fmt.Errorf("%d argmax ops: host-side argmax (managed mode) keeps one result per run", argmaxes)
	}
	return nil
}

// patchesScalar reports whether a patch sets a scalar of call i.
func (p *Program) patchesScalar(i int) bool {
	for _, pt := range p.pats {
		if pt.Call == i && pt.Kind == PatchScalar {
			return true
		}
	}
	return false
}

// readsRunPos reports whether op's kernels take their position from a
// parameter block slot (run_pos in kernels/llm_common.cuh).
func readsRunPos(op llmabi.Op) bool {
	switch op {
	case llmabi.OpRoPE, llmabi.OpKVStore, llmabi.OpAttention, llmabi.OpRoPEKV:
		return true
	}
	return false
}

// allocBlock makes the parameter block: nSlots int32 positions, then the
// embeds' token ids, on the device and in page-locked host memory.
func (p *Program) allocBlock() error {
	p.blockBytes = alignUp(uint64(4*(p.nSlots+p.nIDs)), programBlockAlign)
	if p.nSlots+p.nIDs == 0 {
		return nil
	}
	d := p.m.d
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if err := d.drv.check("cuMemAlloc", call(d.drv.cuMemAlloc, uintptr(unsafe.Pointer(&p.devBlock)), uintptr(p.blockBytes))); err != nil {
		return fmt.Errorf("parameter block: %w", err)
	}
	d.liveDevice.Add(int64(p.blockBytes))
	p.m.stats.DeviceBytes += p.blockBytes
	if err := d.drv.check("cuMemAllocHost", call(d.drv.cuMemAllocHost, uintptr(unsafe.Pointer(&p.hostAddr)), uintptr(p.blockBytes))); err != nil {
		return fmt.Errorf("parameter block: %w", err)
	}
	d.livePinned.Add(int64(p.blockBytes))
	p.hostBlock = unsafe.Slice((*byte)(ptr(p.hostAddr)), p.blockBytes)
	return d.drv.check("cuEventCreate", call(d.drv.cuEventCreate, uintptr(unsafe.Pointer(&p.done)), eventDisableTiming))
}

// Stats reports the program's runs so far.
func (p *Program) Stats() ProgramStats { return p.stats }

// EagerReason is why the program runs its ops one launch at a time instead
// of as a CUDA graph, or nil while it uses graphs.
func (p *Program) EagerReason() error { return p.eagerReason }

// Run runs the program at parameters params (as many as it was recorded
// with): the patched calls are computed and validated again, embed's token
// ids read and checked, and the program launched as a graph (or queued op
// by op). It returns without waiting unless the program holds a Sync;
// argmax results are in memory after the next Sync, as for per-op calls.
func (p *Program) Run(params []int64) error {
	if p.closed {
		return errors.New("cuda: program is closed")
	}
	m := p.m
	if m.closed {
		return errClosed
	}
	if p.cw != nil && p.cw.Closed() {
		return errors.New("cuda: program: its weights are closed")
	}
	if len(params) != len(p.base) {
		return fmt.Errorf("cuda: program: %d parameters, want %d", len(params), len(p.base))
	}
	if err := p.apply(params); err != nil {
		return fmt.Errorf("cuda: program: %w", err)
	}
	p.stats.Runs++
	if m.mode == device.Copy {
		return p.dispatch()
	}
	if err := p.fillBlock(); err != nil {
		return fmt.Errorf("cuda: program: %w", err)
	}
	if p.eagerReason == nil && !m.d.drv.hasGraphs() {
		p.eagerReason = errors.New("the driver has no CUDA graph entry points")
	}
	if p.eagerReason == nil && !programGraphs {
		p.eagerReason = errors.New("WASMGPU_CUDA_GRAPHS=0")
	}
	if p.eagerReason != nil {
		return p.runEager()
	}
	key := p.bakedKey()
	if g := p.graphs[key]; g != nil {
		return p.launchGraph(g)
	}
	if err := p.runEager(); err != nil {
		return err
	}
	g, err := p.record()
	if err != nil {
		// The run itself went through; later runs queue their ops one by one.
		p.eagerReason = fmt.Errorf("recording the graph: %w", err)
		return nil
	}
	if len(p.graphs) >= maxProgramGraphs {
		if err := joinErrs("cuda: program: drop graphs", p.dropGraphs()); err != nil {
			return err
		}
	}
	p.graphs[key] = g
	return nil
}

// apply computes the current calls from the recorded ones and params and
// validates every patched call.
func (p *Program) apply(params []int64) error {
	for _, i := range p.patched {
		p.cur[i] = p.calls[i]
	}
	for k, pt := range p.pats {
		delta, ok := mulSub(pt.Mul, params[pt.Param], p.base[pt.Param])
		c := &p.cur[pt.Call]
		switch pt.Kind {
		case PatchScalar:
			v := int64(c.I[pt.Index]) + delta
			if !ok || v < 0 || v > math.MaxInt32 {
				return fmt.Errorf("op %d (%s): parameter %d = %d puts scalar %s out of range (patch %d)", pt.Call, c.Op, pt.Param, params[pt.Param], scalarName(c.Op, pt.Index), k)
			}
			c.I[pt.Index] = int(v)
		case PatchOffset:
			v := int64(c.S[pt.Index].Off) + delta
			if !ok || v < 0 || delta > math.MaxInt64-int64(c.S[pt.Index].Off) {
				return fmt.Errorf("op %d (%s): parameter %d = %d puts operand %s at a negative or huge offset (patch %d)", pt.Call, c.Op, pt.Param, params[pt.Param], operandName(c.Op, pt.Index), k)
			}
			c.S[pt.Index].Off = uint64(v)
		}
	}
	for _, i := range p.patched {
		if err := p.cur[i].Validate(p.m.size, p.w); err != nil {
			return fmt.Errorf("op %d: %w", i, err)
		}
	}
	return nil
}

// mulSub is mul·(a−b) and whether it fits an int64.
func mulSub(mul, a, b int64) (int64, bool) {
	d := a - b
	if (b < 0 && d < a) || (b > 0 && d > a) {
		return 0, false
	}
	r := d * mul
	if d != 0 && (r/d != mul || (d == -1 && mul == math.MinInt64)) {
		return 0, false
	}
	return r, true
}

// scalarName and operandName name an op's argument for errors.
func scalarName(op llmabi.Op, i int) string {
	if l := op.Layout(); l != nil && i >= 0 && i < len(l.Ints) {
		return l.Ints[i].Name
	}
	return strconv.Itoa(i)
}

func operandName(op llmabi.Op, i int) string {
	if l := op.Layout(); l != nil && i >= 0 && i < len(l.Operands) {
		return l.Operands[i].Name
	}
	return strconv.Itoa(i)
}

// bakedKey is the values of the patched words that a graph holds as
// recorded: runs with the same key replay the same graph.
func (p *Program) bakedKey() string {
	var b strings.Builder
	for k, pt := range p.pats {
		if p.kinds[k] != slotBaked {
			continue
		}
		c := &p.cur[pt.Call]
		v := uint64(0)
		if pt.Kind == PatchScalar {
			v = uint64(c.I[pt.Index])
		} else {
			v = c.S[pt.Index].Off
		}
		b.WriteString(strconv.FormatUint(v, 36))
		b.WriteByte(',')
	}
	return b.String()
}

// fillBlock writes the run's positions and token ids into the host copy
// of the parameter block, once the previous run's copy of it has been
// made (its event). Token ids are read from the linear memory (in resident
// mode from the mirror) and checked against the embedding table.
func (p *Program) fillBlock() error {
	if p.blockBytes == 0 {
		return nil
	}
	m, d := p.m, p.m.d
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if p.launched {
		if err := d.drv.check("cuEventSynchronize", call(d.drv.cuEventSynchronize, p.done)); err != nil {
			return err
		}
		p.launched = false
	}
	words := unsafe.Slice((*int32)(unsafe.Pointer(&p.hostBlock[0])), p.nSlots+p.nIDs)
	for i := range p.cur {
		c := &p.cur[i]
		if s := p.posSlot[i]; s >= 0 {
			words[s] = int32(c.I[scalarIndex(c.Op, "pos")])
		}
		if at := p.idsAt[i]; at >= 0 {
			n := p.idsN[i]
			if m.hostIO() {
				if err := m.settle(c.S[0]); err != nil { // pending argmax indices may be these ids
					return err
				}
			}
			t := c.Tensor(p.w, 0)
			ids, err := m.checkTokens(c.S[0], n, t.Shape[0])
			if err != nil {
				return fmt.Errorf("op %d: %w", i, err)
			}
			copy(words[p.nSlots+at:p.nSlots+at+n], ids)
		}
	}
	return nil
}

// scalarIndex is the index of op's integer scalar called name, or -1.
func scalarIndex(op llmabi.Op, name string) int {
	if l := op.Layout(); l != nil {
		for i, s := range l.Ints {
			if s.Name == name {
				return i
			}
		}
	}
	return -1
}

// dispatch runs the current calls one by one through the per-op methods:
// copy mode, where every op stages its operands.
func (p *Program) dispatch() error {
	p.stats.EagerRuns++
	for i := range p.cur {
		if err := llmabi.Dispatch(p.m, p.w, &p.cur[i]); err != nil {
			return fmt.Errorf("cuda: program op %d: %w", i, err)
		}
	}
	return nil
}

// runEager queues the run as a graph would replay it: the parameter block
// copy, then each op with the program's slots and buffers.
func (p *Program) runEager() error {
	p.stats.EagerRuns++
	if err := p.queue(false); err != nil {
		return err
	}
	if p.blockBytes > 0 {
		if err := p.m.d.enter(); err != nil {
			return err
		}
		err := p.m.d.drv.check("cuEventRecord", call(p.m.d.drv.cuEventRecord, p.done, p.m.stream))
		p.m.d.leave()
		if err != nil {
			return fmt.Errorf("cuda: program: %w", err)
		}
		p.launched = true
	}
	if p.hasSync {
		return p.m.Sync()
	}
	return nil
}

// queue queues the parameter block's copy and every op, with the
// Memory's buffers swapped for the program's while it does.
func (p *Program) queue(capturing bool) (err error) {
	m := p.m
	d := m.d
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if err := m.loadLLMKernels(); err != nil {
		return err
	}
	if p.blockBytes > 0 {
		if err := d.drv.check("cuMemcpyHtoDAsync", call(d.drv.cuMemcpyHtoDAsync, uintptr(p.devBlock), p.hostAddr, uintptr(p.blockBytes), m.stream)); err != nil {
			return fmt.Errorf("cuda: program: parameter block: %w", err)
		}
	}
	rec := &recording{capturing: capturing}
	restore := p.swapIn(rec)
	defer restore()
	for i := range p.cur {
		c := &p.cur[i]
		if c.Op == llmabi.OpSync {
			continue // Run syncs at its end
		}
		rec.posp, rec.ids = 0, 0
		if s := p.posSlot[i]; s >= 0 {
			rec.posp = p.devBlock + uint64(4*s)
		}
		if at := p.idsAt[i]; at >= 0 {
			rec.ids = p.devBlock + uint64(4*(p.nSlots+at))
		}
		if err := llmabi.Dispatch(m, p.w, c); err != nil {
			return fmt.Errorf("cuda: program op %d: %w", i, err)
		}
	}
	return nil
}

// swapIn gives the Memory the program's scratch buffers and recording
// state, and returns what puts the Memory's own back.
func (p *Program) swapIn(rec *recording) func() {
	m := p.m
	l := &m.llm
	scratch, parts, out := l.scratch, l.parts, l.managed.out
	l.scratch, l.parts, l.managed.out, l.rec = p.scratch, p.parts, p.out, rec
	return func() {
		p.scratch, p.parts, p.out = l.scratch, l.parts, l.managed.out
		l.scratch, l.parts, l.managed.out, l.rec = scratch, parts, out, nil
	}
}

// Close releases the program's graphs, buffers and parameter block. The
// Memory's Close closes its programs.
func (p *Program) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	m := p.m
	for i, q := range m.programs {
		if q == p {
			m.programs = append(m.programs[:i], m.programs[i+1:]...)
			break
		}
	}
	if m.closed && m.stream == 0 {
		return nil // the Memory released everything (freeLLM)
	}
	d := m.d
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return joinErrs("cuda: close program", p.free())
}

// free releases what the program holds; the context is current.
func (p *Program) free() []error {
	m, d := p.m, p.m.d
	var errs []error
	if m.stream != 0 {
		errs = append(errs, d.drv.check("cuStreamSynchronize", call(d.drv.cuStreamSynchronize, m.stream)))
	}
	if m.llm.managed.pendN != 0 && m.llm.managed.pendSrc == p.out.host {
		m.landArgmax() // the stream is idle
	}
	errs = append(errs, p.dropGraphs()...)
	for _, b := range []*devBuf{&p.scratch, &p.parts} {
		if b.ptr != 0 {
			errs = append(errs, d.drv.check("cuMemFree", call(d.drv.cuMemFree, uintptr(b.ptr))))
			d.liveDevice.Add(-int64(b.cap))
			m.stats.DeviceBytes -= b.cap
			*b = devBuf{}
		}
	}
	if p.out.host != 0 {
		errs = append(errs, d.drv.check("cuMemFreeHost", call(d.drv.cuMemFreeHost, p.out.host)))
		d.livePinned.Add(-int64(p.out.cap))
		p.out = hostBuf{}
	}
	if p.devBlock != 0 {
		errs = append(errs, d.drv.check("cuMemFree", call(d.drv.cuMemFree, uintptr(p.devBlock))))
		d.liveDevice.Add(-int64(p.blockBytes))
		m.stats.DeviceBytes -= p.blockBytes
		p.devBlock = 0
	}
	if p.hostAddr != 0 {
		errs = append(errs, d.drv.check("cuMemFreeHost", call(d.drv.cuMemFreeHost, p.hostAddr)))
		d.livePinned.Add(-int64(p.blockBytes))
		p.hostAddr, p.hostBlock = 0, nil
	}
	if p.done != 0 {
		errs = append(errs, d.drv.check("cuEventDestroy", call(d.drv.cuEventDestroy, p.done)))
		p.done = 0
	}
	return errs
}
