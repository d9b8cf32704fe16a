package tokenizer

import "sync"

// merge is the outcome of merging an adjacent pair of tokens.
type merge struct {
	rank int32 // position in the merges list; lower merges first
	id   int32 // token the pair becomes
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// bpe is the byte-pair-encoding model: it turns one pre-tokenized piece into
// token ids.
type bpe struct {
	byteID       [256]int32       // token of each single byte
	merges       map[uint64]merge // keyed by pairKey
	words        map[string]int32 // raw bytes of every vocab token
	ignoreMerges bool             // a piece that is a whole token skips merging

	mu    sync.Mutex
	cache map[string][]int32
}

const (
	cacheEntries  = 1 << 14 // the cache is dropped when it grows past this
	cacheMaxBytes = 256     // longer pieces are not cached
)

// encode appends the ids of piece to out.
func (m *bpe) encode(piece string, out []int) []int {
	if m.ignoreMerges {
		if id, ok := m.words[piece]; ok {
			return append(out, int(id))
		}
	}
	if len(piece) <= cacheMaxBytes {
		m.mu.Lock()
		ids, ok := m.cache[piece]
		m.mu.Unlock()
		if ok {
			for _, id := range ids {
				out = append(out, int(id))
			}
			return out
		}
	}
	ids := m.merge(piece)
	if len(piece) <= cacheMaxBytes {
		m.mu.Lock()
		if len(m.cache) >= cacheEntries {
			m.cache = make(map[string][]int32, cacheEntries)
		}
		m.cache[piece] = ids
		m.mu.Unlock()
	}
	for _, id := range ids {
		out = append(out, int(id))
	}
	return out
}

// candidate is a pair of adjacent symbols that could merge.
type candidate struct {
	rank        int32
	left, right int32 // symbol indexes
	leftID      int32 // ids when the candidate was made, to detect staleness
	rightID     int32
}

func (a candidate) less(b candidate) bool {
	return a.rank < b.rank || a.rank == b.rank && a.left < b.left
}

// merge runs BPE on the bytes of piece: repeatedly merge the adjacent pair
// of lowest rank, leftmost first, until no pair has a merge. It keeps the
// symbols in a linked list and the candidates in a binary heap, so a piece
// of n bytes costs O(n log n).
func (m *bpe) merge(piece string) []int32 {
	n := len(piece)
	ids := make([]int32, n)
	next := make([]int32, n) // -1 at the end
	prev := make([]int32, n) // -1 at the start
	for i := 0; i < n; i++ {
		ids[i] = m.byteID[piece[i]]
		next[i] = int32(i + 1)
		prev[i] = int32(i - 1)
	}
	if n > 0 {
		next[n-1] = -1
	}
	var h []candidate
	push := func(l, r int32) {
		if mg, ok := m.merges[pairKey(ids[l], ids[r])]; ok {
			h = heapPush(h, candidate{mg.rank, l, r, ids[l], ids[r]})
		}
	}
	for i := 0; i+1 < n; i++ {
		push(int32(i), int32(i+1))
	}
	for len(h) > 0 {
		var c candidate
		h, c = heapPop(h)
		if ids[c.left] != c.leftID || next[c.left] != c.right || ids[c.right] != c.rightID {
			continue // stale: one side has merged since
		}
		ids[c.left] = m.merges[pairKey(c.leftID, c.rightID)].id
		ids[c.right] = -1
		nx := next[c.right]
		next[c.left] = nx
		if nx >= 0 {
			prev[nx] = c.left
			push(c.left, nx)
		}
		if p := prev[c.left]; p >= 0 {
			push(p, c.left)
		}
	}
	out := make([]int32, 0, n)
	for i := int32(0); n > 0 && i >= 0; i = next[i] {
		out = append(out, ids[i])
	}
	return out
}

func heapPush(h []candidate, c candidate) []candidate {
	h = append(h, c)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func heapPop(h []candidate) ([]candidate, candidate) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, s := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].less(h[s]) {
			s = l
		}
		if r < len(h) && h[r].less(h[s]) {
			s = r
		}
		if s == i {
			break
		}
		h[i], h[s] = h[s], h[i]
		i = s
	}
	return h, top
}
