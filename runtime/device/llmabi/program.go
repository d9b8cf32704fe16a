package llmabi

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi/optable"
)

// A program is a token step recorded once: the calls one step of the engine
// issues, in order, of which a few words move with the step's position (the
// token id's offset, the positions rope_kv and attention take). A guest
// records its step (Record), submits the program's words with one host call,
// and runs it with one host call per token; the host decodes and validates
// it once (DecodeProgram, Exec) and, per run, rewrites and validates only the
// calls whose words move.
//
// The position is the one run-time parameter. The token count is not one: a
// program of n tokens is a different program (decode's GEMVs are prefill's
// GEMMs, a GPU graph's grids follow n), recorded as such.
//
// Wire form (Program.Encode, DecodeProgram), little-endian 32-bit words:
//
//	ProgramMagic, calls C, patches P
//	C calls, each as Call.Encode writes it: op code, then its wire words
//	P patches, each: call index, word index, slope (int32)
//
// A word index counts a call's wire words after its op code
// (optable.Layout.Wire). Patches are sorted by call and word, one per word,
// and only on words that carry an operand's offset or length or an integer
// scalar.
//
// Programs of different guests that differ only in their memory — the same
// op codes, weights, scalars and offsets relative to each guest's memory, as
// identical guests record — have equal words and so equal Keys: what a host
// running many tenants groups to run them as one batch (issue 16).

// ProgramMagic is a program's first word: "WGP1" in little-endian bytes.
const ProgramMagic = 0x31504757

// The most a program may hold, checked before anything is allocated: a
// decode step of Llama 3.2 1B is 100 calls with 33 patches; a 126-layer
// model's would be about 760 calls.
const (
	MaxProgramCalls   = 4096
	MaxProgramPatches = 4096
	// MaxProgramBytes is the longest wire form: every call at the widest
	// op's words, every patch.
	MaxProgramBytes = 4 * (3 + MaxProgramCalls*(1+maxWireWords) + 3*MaxProgramPatches)
)

// maxWireWords is the most wire words an op takes (norm_linear's and
// rope_kv's 18); a test holds it to the table.
const maxWireWords = 18

// Program is a decoded program: its calls at position 0 and the words that
// move with the position.
type Program struct {
	// Calls are the step's calls at position 0, in order.
	Calls []Call
	// Patches are the words that move, sorted by call and word.
	Patches []Patch
}

// Patch says that one wire word of a call moves with the position: at
// position pos it is its value at position 0 plus Slope·pos.
type Patch struct {
	Call  int   // index into Program.Calls
	Word  int   // index among the call's wire words, its op code not counted
	Slope int32 // the word's change per position
}

// Encode returns p's wire form.
func (p *Program) Encode() []uint32 {
	words := make([]uint32, 0, 3+20*len(p.Calls)+3*len(p.Patches))
	words = append(words, ProgramMagic, uint32(len(p.Calls)), uint32(len(p.Patches)))
	for i := range p.Calls {
		words = p.Calls[i].Encode(words)
	}
	for _, q := range p.Patches {
		words = append(words, uint32(q.Call), uint32(q.Word), uint32(q.Slope))
	}
	return words
}

// Key is the sha256 of p's wire form: equal for programs with equal calls
// and patches (see the package's notes on programs).
func (p *Program) Key() [32]byte {
	words := p.Encode()
	b := make([]byte, 4*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return sha256.Sum256(b)
}

// DecodeProgram reads a program's wire form. It checks the form — the
// magic, the counts against the words and the limits, each call's op code
// and words (Decode), each patch's call, word and order, and that it moves
// only an offset, a length or an integer scalar — but not the calls'
// values: Exec validates them. Errors name the call or patch by index.
func DecodeProgram(words []uint32) (*Program, error) {
	if len(words) < 3 {
		return nil, fmt.Errorf("program of %d words is shorter than its 3-word header", len(words))
	}
	if words[0] != ProgramMagic {
		return nil, fmt.Errorf("program starts with %#x, not the magic %#x", words[0], uint32(ProgramMagic))
	}
	nc, np := words[1], words[2]
	if nc == 0 || nc > MaxProgramCalls {
		return nil, fmt.Errorf("program of %d calls: want 1 to %d", nc, MaxProgramCalls)
	}
	if np > MaxProgramPatches {
		return nil, fmt.Errorf("program of %d patches: want at most %d", np, MaxProgramPatches)
	}
	if 3*uint64(np)+3 > uint64(len(words)) {
		return nil, fmt.Errorf("program of %d words cannot hold its %d patches", len(words), np)
	}
	end := uint64(len(words)) - 3*uint64(np) // where the calls must end
	p := &Program{Calls: make([]Call, nc), Patches: make([]Patch, np)}
	at := uint64(3)
	for i := range p.Calls {
		if at >= end {
			return nil, fmt.Errorf("program op %d: the words end after %d of %d calls", i, i, nc)
		}
		if words[at] > 255 || Op(words[at]).Layout() == nil {
			return nil, fmt.Errorf("program op %d: code %d is not in the op table", i, words[at])
		}
		op := Op(words[at])
		n := uint64(len(op.Layout().Wire))
		if at+1+n > end {
			return nil, fmt.Errorf("program op %d (%s): its %d words run past the calls' words (%d left)", i, op, n, end-at-1)
		}
		if err := Decode(op, words[at+1:at+1+n], &p.Calls[i]); err != nil {
			return nil, fmt.Errorf("program op %d: %w", i, err)
		}
		at += 1 + n
	}
	if at != end {
		return nil, fmt.Errorf("program: %d words between its %d calls and its %d patches", end-at, nc, np)
	}
	for k := range p.Patches {
		w := words[end+3*uint64(k):]
		word, err := p.patchWord(k, uint64(w[0]), uint64(w[1]))
		if err != nil {
			return nil, err
		}
		q := Patch{Call: int(w[0]), Word: int(w[1]), Slope: int32(w[2])}
		if k > 0 {
			if prev := p.Patches[k-1]; q.Call < prev.Call || q.Call == prev.Call && q.Word <= prev.Word {
				return nil, fmt.Errorf("program patch %d: op %d word %d follows op %d word %d (patches are sorted, one per word)", k, q.Call, q.Word, prev.Call, prev.Word)
			}
		}
		if q.Slope == 0 {
			return nil, fmt.Errorf("program patch %d: op %d (%s) word %d (%s) has slope 0", k, q.Call, p.Calls[q.Call].Op, q.Word, word.Name)
		}
		p.Patches[k] = q
	}
	return p, nil
}

// PatchWord is the wire word patch k of p moves (its kind, and the operand
// or integer scalar it carries), or an error naming the patch: a call the
// program does not have, a word its op does not have, or a word that is not
// an offset, a length or an integer scalar, which cannot move with the
// position. Everything that runs a program's patches resolves them here.
func (p *Program) PatchWord(k int) (optable.Param, error) {
	q := p.Patches[k]
	return p.patchWord(k, uint64(uint32(q.Call)), uint64(uint32(q.Word)))
}

// patchWord is PatchWord for patch k's call and word as read (unsigned, so
// a negative or oversized one is out of range, not an index).
func (p *Program) patchWord(k int, call, word uint64) (optable.Param, error) {
	if call >= uint64(len(p.Calls)) {
		return optable.Param{}, fmt.Errorf("program patch %d: op %d is not one of the program's %d", k, call, len(p.Calls))
	}
	l := p.Calls[call].Op.Layout()
	if word >= uint64(len(l.Wire)) {
		return optable.Param{}, fmt.Errorf("program patch %d: op %d (%s) has %d words, not a word %d", k, call, l.Name, len(l.Wire), word)
	}
	w := l.Wire[word]
	if w.Kind != optable.PPtr && w.Kind != optable.PLen && w.Kind != optable.PInt {
		return optable.Param{}, fmt.Errorf("program patch %d: op %d (%s) word %d (%s) is not an offset, a length or an integer scalar: it cannot move with the position", k, call, l.Name, word, w.Name)
	}
	return w, nil
}
