package llm

// Buffers are the engine's memory grouped by who touches it, so that a
// runtime can place pages before their first use (device.Placer): a fresh
// engine's pages are all untouched, and on managed memory each one would
// otherwise fault in (or migrate) during the first forward pass.
type Buffers struct {
	// KV is every layer's K and V cache: one range inside the state region,
	// starting a 64 KiB page after its header and token ids (which the host
	// reads and writes every token) and ending with the region. Kernels read
	// and write it; a restore writes it from the host.
	KV Buf
	// Device are the activations, the logits and the RoPE frequencies: after
	// New only the device's kernels touch them (the host reads logits only
	// when it samples or is asked for them). The argmax indices, which the
	// host reads every token, are not among them.
	Device []Buf
}

// Buffers returns the engine's buffers by who touches them.
func (e *Engine) Buffers() Buffers {
	kv := e.layout.K[0]
	s := e.s
	return Buffers{
		KV:     Buf{Off: e.state.Off + kv, Len: e.layout.Size - kv},
		Device: []Buf{s.x, s.xb, s.q, s.k, s.v, s.att, s.hb, s.hb2, s.logits, s.invFreq},
	}
}
