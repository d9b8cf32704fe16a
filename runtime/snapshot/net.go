package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

// The migration protocol. The sender writes one frame:
//
//	"WGSNAP1\n"  8-byte magic
//	size         uint64 little-endian: the snapshot's length in bytes
//	snapshot     size bytes, exactly as WriteTo writes them
//
// and the receiver answers once the snapshot is restored or refused:
//
//	"WGSNAPOK"                          restored
//	"WGSNAPER" len(uint32 LE) message   refused, with the receiver's error
//
// The snapshot's header comes first, so the receiver checks it against its
// destination before any tensor data arrives; a refused snapshot is read to
// its end and discarded, so the connection stays in step and the sender
// learns why.
const (
	frameMagic = "WGSNAP1\n"
	replyOK    = "WGSNAPOK"
	replyErr   = "WGSNAPER"
	maxReply   = 64 << 10 // longest error message a reply carries
)

// Send writes a snapshot of st to conn and waits for the receiver's answer:
// a nil error means the peer's Receive restored it. It returns the bytes of
// the snapshot written. Deadlines and timeouts are the caller's: set them on
// conn (net.Conn.SetDeadline) before calling.
func Send(conn io.ReadWriter, st *State) (int64, error) {
	im, err := encode(st)
	if err != nil {
		return 0, fmt.Errorf("snapshot send: %w", err)
	}
	size, err := im.size()
	if err != nil {
		return 0, fmt.Errorf("snapshot send: %w", err)
	}
	frame := binary.LittleEndian.AppendUint64([]byte(frameMagic), uint64(size))
	if _, err := conn.Write(frame); err != nil {
		return 0, fmt.Errorf("snapshot send: %w", err)
	}
	n, err := safetensors.WriteTo(conn, im.tensors, im.metadata)
	if err != nil {
		return n, fmt.Errorf("snapshot send: %w", err)
	}
	var reply [8]byte
	if _, err := io.ReadFull(conn, reply[:]); err != nil {
		return n, fmt.Errorf("snapshot send: waiting for the receiver's answer: %w", err)
	}
	switch string(reply[:]) {
	case replyOK:
		return n, nil
	case replyErr:
		var l [4]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			return n, fmt.Errorf("snapshot send: receiver refused (reason unreadable: %w)", err)
		}
		msg := make([]byte, min(binary.LittleEndian.Uint32(l[:]), maxReply))
		if _, err := io.ReadFull(conn, msg); err != nil {
			return n, fmt.Errorf("snapshot send: receiver refused (reason unreadable: %w)", err)
		}
		return n, fmt.Errorf("snapshot send: receiver refused: %s", msg)
	}
	return n, fmt.Errorf("snapshot send: unexpected answer %q from the receiver", reply[:])
}

// Receive reads one snapshot frame that Send wrote on conn, restores it into
// into with the checks and guarantees of Restore, and answers the sender.
// A refused snapshot (wrong model, corrupt) is read to its end so that the
// sender gets the reason; if the connection fails, into.Pos is 0 whenever
// any data had reached into. Deadlines and timeouts are the caller's.
func Receive(conn io.ReadWriter, into *State) (Info, error) {
	peer := "peer"
	if c, ok := conn.(net.Conn); ok && c.RemoteAddr() != nil {
		peer = c.RemoteAddr().String()
	}
	var frame [16]byte
	if _, err := io.ReadFull(conn, frame[:]); err != nil {
		return Info{}, fmt.Errorf("snapshot receive from %s: frame: %w", peer, err)
	}
	if string(frame[:8]) != frameMagic {
		return Info{}, fmt.Errorf("snapshot receive from %s: frame magic %q, want %q (not a snapshot sender)", peer, frame[:8], frameMagic)
	}
	size := binary.LittleEndian.Uint64(frame[8:])
	if size > 1<<62 {
		return Info{}, fmt.Errorf("snapshot receive from %s: frame size %d is absurd", peer, size)
	}
	cr := &countReader{r: conn}
	info, err := restore(cr, int64(size), peer, into)
	if err == nil {
		if _, werr := conn.Write([]byte(replyOK)); werr != nil {
			// Restored, but the sender will not know: report it.
			return info, fmt.Errorf("snapshot receive from %s: restored, but answering failed: %w", peer, werr)
		}
		return info, nil
	}
	err = fmt.Errorf("snapshot receive from %s: %w", peer, err)
	if cr.err != nil {
		return info, err // the connection failed: nobody to answer
	}
	// Refused: consume the rest of the frame, then say why.
	if _, derr := io.CopyN(io.Discard, conn, int64(size)-cr.n); derr != nil {
		return info, errors.Join(err, fmt.Errorf("discarding the refused snapshot: %w", derr))
	}
	msg := err.Error()
	if len(msg) > maxReply {
		msg = msg[:maxReply]
	}
	reply := binary.LittleEndian.AppendUint32([]byte(replyErr), uint32(len(msg)))
	if _, werr := conn.Write(append(reply, msg...)); werr != nil {
		return info, errors.Join(err, fmt.Errorf("answering the sender: %w", werr))
	}
	return info, err
}

// countReader counts the bytes read and keeps the first error, io.EOF
// included: restore never reads past the frame, so any error means the
// connection failed.
type countReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}
