package snapshot

import (
	"errors"
	"fmt"
)

// ErrChecksum is wrapped by errors for a snapshot whose data or metadata
// does not match its recorded CRC-32C.
var ErrChecksum = errors.New("checksum mismatch (corrupt snapshot)")

// State is a view of one conversation's state in a guest's memory. Its
// slices alias guest memory; Save reads them and Restore writes them, with
// no intermediate copies. The caller must not let the guest run while
// either is in progress.
type State struct {
	// Meta describes the state. For Save it is recorded in the snapshot;
	// for Restore it is what the snapshot must match, and MaxSeq is the
	// destination's capacity in tokens.
	Meta Meta
	// Pos is the number of tokens in the cache: rows 0..Pos-1 are live.
	Pos int
	// Next is the token predicted after Pos, not yet in the cache, or
	// NoToken. It travels with the snapshot so a restored guest can go on
	// decoding without recomputing it.
	Next int32
	// Tokens holds the token ids at positions 0..Pos-1: len(Tokens) must
	// equal Pos for Save (it is never optional: a restored conversation
	// needs its history to be checked and extended). Restore writes
	// Tokens[:Pos] in place when cap(Tokens) >= Pos, so it may be a view of
	// the guest's token buffer, and allocates a new slice otherwise.
	Tokens []int32
	// K and V hold, per layer, the cache rows: at least Pos·RowBytes bytes
	// each (Save), or enough for the snapshot's Pos (Restore), typically
	// MaxSeq·RowBytes views of guest memory.
	K, V [][]byte
	// Landed, if not nil, is called by Restore, ReadFrom and Receive with
	// each piece of cache data (a subslice of K or V) once it is in place,
	// before the data checksum is verified, one call at a time, from the
	// goroutine that read it. A device whose kernels read the cache from
	// elsewhere (managed memory that migrates to a GPU) can start moving a
	// piece there while the rest is still being read. A restore that fails
	// afterwards leaves the destination invalid as always.
	Landed func(b []byte)
}

// RowBytes returns the bytes of one token's row in one layer's K or V cache.
func (m Meta) RowBytes() int { return m.Width * m.KVDType.Size() }

// checkShape verifies that st's views can hold pos tokens of its Meta's
// geometry; what names the operation in errors.
func (st *State) checkShape(pos int) error {
	m := st.Meta
	if m.KVDType.Size() == 0 {
		return fmt.Errorf("%s: unknown KV dtype %q (want f32, bf16 or f16)", KeyKVDType, m.KVDType)
	}
	if m.Layers < 1 || m.Width < 1 {
		return fmt.Errorf("%s, %s: %d and %d, want at least 1", KeyLayers, KeyWidth, m.Layers, m.Width)
	}
	if len(st.K) != m.Layers || len(st.V) != m.Layers {
		return fmt.Errorf("%s: meta says %d, state has %d K and %d V caches", KeyLayers, m.Layers, len(st.K), len(st.V))
	}
	need := int64(pos) * int64(m.RowBytes())
	for i := range m.Layers {
		if int64(len(st.K[i])) < need {
			return fmt.Errorf("%s: %d bytes, %d tokens need %d", kName(i), len(st.K[i]), pos, need)
		}
		if int64(len(st.V[i])) < need {
			return fmt.Errorf("%s: %d bytes, %d tokens need %d", vName(i), len(st.V[i]), pos, need)
		}
	}
	return nil
}

// checkSave verifies st before it is saved.
func (st *State) checkSave() error {
	if st.Pos < 0 || st.Pos > st.Meta.MaxSeq {
		return fmt.Errorf("%s: %d is outside [0, %s %d]", KeyPos, st.Pos, KeyMaxSeq, st.Meta.MaxSeq)
	}
	if len(st.Tokens) != st.Pos {
		return fmt.Errorf("tokens: %d ids for %s %d", len(st.Tokens), KeyPos, st.Pos)
	}
	if st.Next < NoToken {
		return fmt.Errorf("%s: %d is negative", KeyNext, st.Next)
	}
	if l := layoutOrDefault(st.Meta.Layout); l != LayoutRowMajor {
		return fmt.Errorf("%s: %q, this package writes only %q", KeyLayout, l, LayoutRowMajor)
	}
	return st.checkShape(st.Pos)
}

// invalidate marks a destination whose contents are partly written.
func (st *State) invalidate() {
	st.Pos = 0
	st.Next = NoToken
	st.Tokens = st.Tokens[:0]
}
