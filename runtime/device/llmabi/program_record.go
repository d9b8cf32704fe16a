package llmabi

import (
	"fmt"
	"math"
)

// Record makes the program of a step from the calls step issues at three
// positions, running none of them: step(0) gives every wire word's value at
// position 0, step(1) its change per position (its slope), and step(last)
// checks that every word lies on that line at the far end too. Calls that
// differ in number or op between the recordings, or a word off its line,
// are an error naming the call and the word.
//
// Why this is exact: the engine computes each word of a step either as a
// constant or as base + stride·pos (the token id's offset is the token
// array's plus 4·pos; rope_kv's and attention's pos is pos). Two points
// determine such a line, so the program reproduces every such word at
// every position; the third recording, at the other end of the context,
// catches a word that is not on a line (a branch on the position, a
// product of two parameters) where it would differ most. The engine's test
// compares the program with a fresh recording at every position of a
// context (runtime/llm).
//
// Record uses only the calls' generated encoding, not the compiled op
// table, so a guest links no table compiler to record its step.
func Record(step func(pos int) ([]Call, error), last int) (*Program, error) {
	if last < 2 {
		return nil, fmt.Errorf("record program: the check position %d is not beyond 1", last)
	}
	var calls [3][]Call
	for r, pos := range [3]int{0, 1, last} {
		cs, err := step(pos)
		if err != nil {
			return nil, fmt.Errorf("record program at position %d: %w", pos, err)
		}
		if len(cs) == 0 || len(cs) > MaxProgramCalls {
			return nil, fmt.Errorf("record program at position %d: %d calls, want 1 to %d", pos, len(cs), MaxProgramCalls)
		}
		if r > 0 && len(cs) != len(calls[0]) {
			return nil, fmt.Errorf("record program: %d calls at position %d, %d at position 0", len(cs), pos, len(calls[0]))
		}
		calls[r] = cs
	}
	p := &Program{Calls: calls[0]}
	var w0, w1, w2 []uint32
	for i := range p.Calls {
		w0, w1, w2 = calls[0][i].Encode(w0[:0]), calls[1][i].Encode(w1[:0]), calls[2][i].Encode(w2[:0])
		if calls[1][i].Op != calls[0][i].Op || calls[2][i].Op != calls[0][i].Op || len(w0) != len(w1) || len(w0) != len(w2) {
			return nil, fmt.Errorf("record program: op %d is %s at position 0, %s at 1 and %s at %d", i, calls[0][i].Op, calls[1][i].Op, calls[2][i].Op, last)
		}
		for j := 1; j < len(w0); j++ {
			slope := int64(w1[j]) - int64(w0[j])
			if slope == 0 && w2[j] == w0[j] {
				continue
			}
			if want := int64(w0[j]) + slope*int64(last); slope < math.MinInt32 || slope > math.MaxInt32 || want != int64(w2[j]) {
				return nil, fmt.Errorf("record program: op %d (%s) word %d is %d at position 0, %d at 1 and %d at %d: not a straight line of the position",
					i, p.Calls[i].Op, j-1, w0[j], w1[j], w2[j], last)
			}
			p.Patches = append(p.Patches, Patch{Call: i, Word: j - 1, Slope: int32(slope)})
		}
	}
	if len(p.Patches) > MaxProgramPatches {
		return nil, fmt.Errorf("record program: %d words move with the position, more than %d", len(p.Patches), MaxProgramPatches)
	}
	return p, nil
}
