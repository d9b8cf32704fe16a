package snapshot

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

// Info describes a snapshot that was read.
type Info struct {
	Meta        Meta   // as the source recorded it
	Pos         int    // tokens restored
	Next        int32  // the predicted next token, or NoToken
	Bytes       int64  // the whole snapshot: length prefix, header, data
	HeaderBytes int64  // length prefix and JSON header
	DataBytes   int64  // tensor data, read straight into the destination
	Tensors     int    // tensors read: tokens plus a K and a V per layer
	DataCRC     uint32 // CRC-32C of the data, verified
}

// Restore reads the snapshot at path into into, whose Meta says what the
// snapshot must match and how many tokens (MaxSeq) it can hold. Each tensor
// is read straight into into.K[i] and into.V[i]; on success into.Pos,
// into.Next and into.Tokens are set and the rows past Pos are left as they
// were.
//
// A snapshot that does not fit (*MismatchError, naming the field) or whose
// header is corrupt is refused before into is touched. An error after that
// (a truncated file, a bad checksum: errors.Is(err, ErrChecksum)) leaves
// into.Pos at 0 and into's caches partly overwritten: the caller must not
// use them.
func Restore(path string, into *State) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("snapshot restore: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Info{}, fmt.Errorf("snapshot restore %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, fmt.Errorf("snapshot restore %s: not a regular file", path)
	}
	info, err := restore(f, fi.Size(), path, into)
	if err != nil {
		return info, fmt.Errorf("snapshot restore %s: %w", path, err)
	}
	return info, nil
}

// ReadFrom reads one snapshot, as WriteTo wrote it, from r into into, with
// the same checks and guarantees as Restore. It reads exactly the
// snapshot's bytes from r and no more, so r may carry further data; the
// snapshot's end is known from its header. Without a size to check the
// header against, a truncated stream is detected only when it ends early.
func ReadFrom(r io.Reader, into *State) (Info, error) {
	info, err := restore(r, -1, "stream", into)
	if err != nil {
		return info, fmt.Errorf("snapshot read: %w", err)
	}
	return info, nil
}

// restore reads a snapshot of size bytes (-1: unknown) from r into into.
// name identifies the source in errors.
func restore(r io.Reader, size int64, name string, into *State) (Info, error) {
	hdr, raw, err := readHeader(r, size, name)
	if err != nil {
		return Info{}, err
	}
	hdrLen := 8 + int64(len(raw))
	h, err := decodeMeta(hdr.Metadata)
	if err != nil {
		return Info{}, err
	}
	info := Info{Meta: h.meta, Pos: h.pos, Next: h.next, HeaderBytes: hdrLen, Tensors: 1 + 2*h.meta.Layers, DataCRC: h.dataCRC}
	if err := checkFits(h, into.Meta); err != nil {
		return info, err
	}
	if err := into.checkShape(h.pos); err != nil {
		return info, fmt.Errorf("destination: %w", err)
	}
	tok := make([]byte, 4*h.pos)
	want := into.tensors(h.pos, tok)
	dataSize, err := checkLayout(hdr, want)
	if err != nil {
		return info, err
	}
	if size >= 0 && dataSize != hdr.DataSize {
		return info, fmt.Errorf("%d bytes after the last tensor (corrupt snapshot)", hdr.DataSize-dataSize)
	}
	if err := checkCanonical(raw, want, hdr.Metadata); err != nil {
		return info, err
	}
	info.DataBytes = dataSize
	info.Bytes = hdrLen + dataSize

	// From here on into is written: any error leaves it invalid.
	into.invalidate()
	pieces := make([][]byte, len(want))
	for i, t := range want {
		pieces[i] = t.Data
	}
	var crc uint32
	if ra, ok := r.(io.ReaderAt); ok && size >= 0 {
		// A file: read pieces at their offsets on several cores.
		crc, err = readAtCRC(ra, hdrLen, pieces)
	} else {
		crc, err = readCRC(r, pieces)
	}
	if err != nil {
		return info, fmt.Errorf("data: %w (truncated snapshot?)", err)
	}
	if crc != h.dataCRC {
		return info, fmt.Errorf("%s: data checksum is %s, computed %s: %w", KeyDataCRC, crcString(h.dataCRC), crcString(crc), ErrChecksum)
	}
	if cap(into.Tokens) < h.pos {
		into.Tokens = make([]int32, h.pos)
	}
	into.Tokens = into.Tokens[:h.pos]
	for i := range into.Tokens {
		into.Tokens[i] = int32(binary.LittleEndian.Uint32(tok[4*i:]))
	}
	into.Pos, into.Next = h.pos, h.next
	return info, nil
}

// readHeader reads the length prefix and JSON header of a snapshot of size
// bytes (-1: unknown) and validates it as safetensors. It returns the header
// and the JSON header's bytes.
func readHeader(r io.Reader, size int64, name string) (*safetensors.Header, []byte, error) {
	var prefix [8]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, fmt.Errorf("header length: %w (truncated snapshot?)", err)
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	switch {
	case n < 2 || n > maxHeader:
		return nil, nil, fmt.Errorf("header length: %d is outside [2, %d] (not a snapshot?)", n, maxHeader)
	case size >= 0 && int64(n) > size-8:
		return nil, nil, fmt.Errorf("header length: %d runs past the end of the %d-byte snapshot (truncated?)", n, size)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, fmt.Errorf("header: %w (truncated snapshot?)", err)
	}
	dataSize := int64(1 << 62) // unknown: the header's own offsets say
	if size >= 0 {
		dataSize = size - 8 - int64(n)
	}
	h, err := safetensors.ParseHeader(name, buf, dataSize)
	if err != nil {
		return nil, nil, err
	}
	return h, buf, nil
}

// readCRC reads every piece in turn from r straight into the piece and
// returns the CRC-32C of all, each chunk checksummed while it is still in
// the CPU's cache.
func readCRC(r io.Reader, pieces [][]byte) (uint32, error) {
	var c uint32
	for _, p := range pieces {
		for len(p) > 0 {
			x := p[:min(len(p), readChunk)]
			if _, err := io.ReadFull(r, x); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return 0, err
			}
			c = crc32.Update(c, castagnoli, x)
			p = p[len(x):]
		}
	}
	return c, nil
}
