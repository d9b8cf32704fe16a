// Package snapshot saves a conversation's KV cache out of a WebAssembly
// guest's linear memory and restores it into another guest: to a file
// (Save, Restore), to any stream (WriteTo, ReadFrom) or across a TCP
// connection (Send, Receive).
//
// A snapshot is a safetensors file. safetensors is portable (a JSON header
// and raw little-endian tensors, no code execution on load), inspectable
// with standard tools (Python's safetensors, numpy, the Hugging Face hub
// viewer) and native to the Hugging Face ecosystem the models come from. A
// snapshot holds, in this file order:
//
//	tokens       I32 [pos]          the token ids at positions 0..pos-1
//	layers.0.k   dtype [pos, width] layer 0's K cache rows 0..pos-1
//	layers.0.v   dtype [pos, width] layer 0's V cache rows
//	layers.1.k   ...
//
// where width is kvHeads·headDim and dtype is the KV cache's element type
// (BF16, F16 or F32; which one is the engine's choice, bf16 by default).
// Tensors are laid out back to back, so writing and reading are sequential,
// and every tensor is written straight from, and read straight into, the
// caller's byte views of guest memory: there is no staging copy of the cache.
//
// The __metadata__ map carries Meta as strings (see the key constants), pos,
// the predicted next token, and two checksums: data_crc32c over all tensor
// data in file order and meta_crc32c over the metadata itself. Both are
// CRC-32C (Castagnoli), which hash/crc32 computes with the CPU's CRC32
// instruction at tens of GB/s, a few percent of the cost of reading the data.
// A cryptographic hash (sha256 runs at 1–2 GB/s) would cost more than the
// restore it guards; the checksums catch corruption, not tampering.
//
// Restore reads a file's tensors with positioned reads on every core (the
// small tensors of a short context gathered into vectored reads), each
// chunk checksummed while it is still in that core's cache, and combines the
// per-chunk CRCs (crc32Combine), so the checksum is still the one sequential
// CRC-32C of the data; ReadFrom and Receive read a stream in order and
// checksum it on a second goroutine. State.Landed hears of each piece of
// cache as it lands, so a device can start moving it while the rest is read. A header is accepted only if it is byte
// for byte the header this package writes for its metadata, so any damage to
// it (not only to the data) is refused; a snapshot rewritten by another tool
// is refused too.
//
// A restore refuses a snapshot that does not fit its destination and names
// the field: another model (fingerprint), KV dtype, layer count, width,
// layout, tokenizer or format version, more tokens than the destination
// holds, or a next token or token id outside its vocabulary (Meta.Vocab).
// Restore opens only a regular file (a FIFO is refused, not waited on) and
// checks its size against the header. All of that, the token ids included
// (they come first in the file and are read aside), is checked before a
// byte of the destination is written, and a refusal leaves it untouched:
// what the engine will check when it adopts the state cannot fail after
// the write. Once cache data has started to land, any error (a truncated
// stream, a bad checksum) sets the destination's Pos to 0, and the caller
// must not use its cache or tokens, but reset the conversation.
//
// The package depends on no engine: it works on State, plain byte views of
// the caches that the engine (runtime/llm) hands over.
package snapshot
