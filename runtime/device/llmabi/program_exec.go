package llmabi

import (
	"errors"
	"fmt"
	"math"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi/optable"
)

// Exec is a program validated against one device Memory and one set of
// weights, ready to run: what a host keeps behind a program handle (the
// Wasm host for a guest, the native engine's kernels for itself). It
// validates every call once, when it is made; a run rewrites only the calls
// whose words move with the position and validates those again at that
// position. It runs the program on the Memory's ProgramRunner, or call by
// call through its device.LLMOps. An Exec is not safe for concurrent use.
type Exec struct {
	prog    *Program
	ops     device.LLMOps
	w       device.Weights
	maxWork uint64
	work    uint64          // the multiply-adds of the calls that do not move
	calls   []Call          // a run's calls: prog.Calls, the moving ones rewritten per run
	moves   []move          // prog.Patches, resolved to the fields they rewrite
	moving  []int           // the calls with a moving word, each once, in order
	dev     PreparedProgram // the device's, or nil: call by call
	closed  bool
	key     [32]byte // prog.Key(), once keyed
	keyed   bool
}

// move is a Patch resolved to the Call field it rewrites.
type move struct {
	call, word  int
	kind        optable.ParamKind
	index       int   // of the operand or integer scalar
	base, slope int64 // the word at position 0 and its change per position
}

// WorkError is a program that asks for more multiply-adds (Call.Work) in
// one run than the limit its Exec was made with: the sandbox's cap on the
// work of one host call that nothing may cut short once it runs (a GPU
// kernel, here a GPU graph), so a program's calls are held to it together.
type WorkError struct {
	Index int // the call's index in the program, -1 for the calls together
	Op    Op  // the call's op (Index ≥ 0)
	Pos   int // the position of the run, -1 when the program was made
	Work  uint64
	Limit uint64
}

func (e *WorkError) Error() string {
	at := ""
	if e.Pos >= 0 {
		at = fmt.Sprintf(" at position %d", e.Pos)
	}
	if e.Index < 0 {
		return fmt.Sprintf("program%s asks for %d multiply-adds in all, more than the limit of %d", at, e.Work, e.Limit)
	}
	return fmt.Sprintf("program op %d (%s)%s asks for %d multiply-adds, more than the limit of %d", e.Index, e.Op, at, e.Work, e.Limit)
}

// NewExec validates every call of p against memory of size bytes and the
// weights w (Call.Validate; the calls at position 0) and, with maxWork > 0,
// holds the work of a run to it (WorkError); then it lets ops prepare the
// program if it is a ProgramRunner. Errors name the call by its index in
// the program.
func NewExec(p *Program, ops device.LLMOps, size uint64, w device.Weights, maxWork uint64) (*Exec, error) {
	if p == nil || len(p.Calls) == 0 {
		return nil, errors.New("program has no calls")
	}
	x := &Exec{prog: p, ops: ops, w: w, maxWork: maxWork, calls: make([]Call, len(p.Calls))}
	copy(x.calls, p.Calls)
	moves := make([]bool, len(p.Calls))
	for _, q := range p.Patches {
		if q.Call >= 0 && q.Call < len(moves) {
			moves[q.Call] = true
		}
	}
	var total uint64
	for i := range x.calls {
		work, err := x.check(i, size, -1)
		if err != nil {
			return nil, err
		}
		if total = satAdd(total, work); !moves[i] {
			x.work = satAdd(x.work, work)
		}
	}
	if maxWork > 0 && total > maxWork {
		return nil, &WorkError{Index: -1, Pos: -1, Work: total, Limit: maxWork}
	}
	for k, q := range p.Patches {
		w, err := p.PatchWord(k)
		if err != nil {
			return nil, err
		}
		c := &p.Calls[q.Call]
		m := move{call: q.Call, word: q.Word, kind: w.Kind, index: w.Index, slope: int64(q.Slope)}
		switch m.kind {
		case optable.PPtr:
			m.base = int64(c.S[m.index].Off)
		case optable.PLen:
			m.base = int64(c.S[m.index].Len)
		case optable.PInt:
			m.base = int64(c.I[m.index])
		}
		x.moves = append(x.moves, m)
	}
	for i, m := range moves {
		if m {
			x.moving = append(x.moving, i)
		}
	}
	if r, ok := ops.(ProgramRunner); ok {
		dev, err := r.PrepareProgram(p, w)
		switch {
		case errors.Is(err, ErrCallByCall):
		case err != nil:
			return nil, fmt.Errorf("prepare program on the device: %w", err)
		default:
			x.dev = dev
		}
	}
	return x, nil
}

// check validates call i of a run at pos (-1: as made) on memory of size
// bytes and returns its work.
func (x *Exec) check(i int, size uint64, pos int) (uint64, error) {
	c := &x.calls[i]
	if err := c.Validate(size, x.w); err != nil {
		if pos >= 0 {
			return 0, fmt.Errorf("program op %d at position %d: %w", i, pos, err)
		}
		return 0, fmt.Errorf("program op %d: %w", i, err)
	}
	work := c.Work(x.w)
	if x.maxWork > 0 && work > x.maxWork {
		return 0, &WorkError{Index: i, Op: c.Op, Pos: pos, Work: work, Limit: x.maxWork}
	}
	return work, nil
}

// Run runs the program once at position pos on memory now of size bytes
// (never smaller than when the Exec was made: memory only grows). It
// rewrites the moving words, validates the calls they belong to (Bind), and
// runs every call: on the device's prepared program, or call by call. A word
// moved outside 32 bits or a call it makes invalid (a range pushed out of
// memory, a position beyond a cache's rows) is an error naming the call's
// index and the operand, and nothing runs.
func (x *Exec) Run(size uint64, pos int) error {
	calls, err := x.Bind(size, pos)
	if err != nil {
		return err
	}
	if x.dev != nil {
		return x.dev.Run(pos, calls)
	}
	for i := range calls {
		if err := Dispatch(x.ops, x.w, &calls[i]); err != nil {
			return fmt.Errorf("program op %d: %w", i, err)
		}
	}
	return nil
}

// Bind readies a run at position pos on memory now of size bytes without
// running it: it rewrites the moving words, validates the calls they
// belong to at pos against size and the weights, holds the run's work to
// the limit, and returns the run's calls, every one valid on this Exec's
// memory. The slice is the Exec's own: it holds until the next Bind or
// Run, and the caller must not change it. A host that runs many guests'
// programs as one batch (runtime/tenants) binds each guest's Exec at that
// guest's position and memory, so that no call is ever checked against
// another guest's memory. Its errors are Run's.
func (x *Exec) Bind(size uint64, pos int) ([]Call, error) {
	if x.closed {
		return nil, errors.New("program is closed")
	}
	if pos < 0 || pos > math.MaxInt32 {
		return nil, fmt.Errorf("program position %d is not in [0, 2^31)", pos)
	}
	for _, m := range x.moves {
		v := m.base + m.slope*int64(pos) // |slope·pos| < 2^62: no overflow
		if v < 0 || v > math.MaxUint32 {
			c := &x.calls[m.call]
			return nil, fmt.Errorf("program op %d (%s) at position %d: %s would be %d, outside [0, 2^32)", m.call, c.Op, pos, c.Op.Layout().Wire[m.word].Name, v)
		}
		c := &x.calls[m.call]
		switch m.kind {
		case optable.PPtr:
			c.S[m.index].Off = uint64(v)
		case optable.PLen:
			c.S[m.index].Len = uint64(v)
		case optable.PInt:
			c.I[m.index] = int(v)
		}
	}
	total := x.work
	for _, i := range x.moving {
		work, err := x.check(i, size, pos)
		if err != nil {
			return nil, err
		}
		total = satAdd(total, work)
	}
	if x.maxWork > 0 && total > x.maxWork {
		return nil, &WorkError{Index: -1, Pos: pos, Work: total, Limit: x.maxWork}
	}
	return x.calls, nil
}

// Ops is the device memory the Exec validated its calls against and runs
// them on.
func (x *Exec) Ops() device.LLMOps { return x.ops }

// Key is the program's Key, computed once: runs of Execs with equal Keys
// are runs of equal programs (the same calls and patches), which a
// batcher may run as one.
func (x *Exec) Key() [32]byte {
	if !x.keyed {
		x.key, x.keyed = x.prog.Key(), true
	}
	return x.key
}

// Program is the program the Exec runs.
func (x *Exec) Program() *Program { return x.prog }

// Weights are the weights the Exec was validated against and runs with.
func (x *Exec) Weights() device.Weights { return x.w }

// OnDevice reports whether the device runs the program itself (its
// ProgramRunner prepared it) rather than call by call.
func (x *Exec) OnDevice() bool { return x.dev != nil }

// Close releases what the device prepared; later runs fail. Closing twice
// does nothing.
func (x *Exec) Close() error {
	if x.closed {
		return nil
	}
	x.closed = true
	if x.dev != nil {
		return x.dev.Close()
	}
	return nil
}
