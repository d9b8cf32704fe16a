package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// pipe returns the two ends of a loopback TCP connection, with a deadline
// so that a broken test fails instead of hanging.
func pipe(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	deadline := time.Now().Add(10 * time.Second)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

type received struct {
	info Info
	err  error
}

func receive(conn net.Conn, into *State) <-chan received {
	ch := make(chan received, 1)
	go func() {
		info, err := Receive(conn, into)
		ch <- received{info, err}
	}()
	return ch
}

func TestSendReceive(t *testing.T) {
	m := testMeta(device.KVBF16, 4, 512, 600)
	src := newState(m, 512, 1) // 4 MiB of cache
	a, b := pipe(t)
	// Two snapshots on one connection: the frames stay in step.
	for i, pos := range []int{512, 24} {
		src.Pos, src.Tokens = pos, src.Tokens[:pos]
		dst := emptyState(m)
		done := receive(b, dst)
		n, err := Send(a, src)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		r := <-done
		if r.err != nil {
			t.Fatalf("receive %d: %v", i, r.err)
		}
		sameState(t, dst, src)
		if r.info.Bytes != n || r.info.Pos != pos {
			t.Errorf("receive %d: info %+v, sent %d bytes", i, r.info, n)
		}
	}
}

func TestReceiveRefuses(t *testing.T) {
	m := testMeta(device.KVF16, 2, 64, 100)
	src := newState(m, 50, 1)
	a, b := pipe(t)
	other := m
	other.Fingerprint = "cfg:sha256:other/synthetic:1"
	dst := emptyState(m)
	dst.Meta = other
	done := receive(b, dst)
	_, err := Send(a, src)
	if err == nil || !strings.Contains(err.Error(), "receiver refused") || !strings.Contains(err.Error(), KeyFingerprint) {
		t.Fatalf("send: %v", err)
	}
	r := <-done
	var me *MismatchError
	if !errors.As(r.err, &me) || me.Field != KeyFingerprint {
		t.Fatalf("receive: %v", r.err)
	}
	if !untouched(dst) {
		t.Error("a refused snapshot touched the destination")
	}
	// The connection is still in step: a fitting snapshot goes through.
	dst = emptyState(m)
	done = receive(b, dst)
	if _, err := Send(a, src); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil {
		t.Fatal(r.err)
	}
	sameState(t, dst, src)
}

// TestConnectionKilled cuts the connection in the middle of the data: the
// receiver reports a truncated snapshot and its destination is invalid.
func TestConnectionKilled(t *testing.T) {
	m := testMeta(device.KVBF16, 4, 512, 600)
	src := newState(m, 512, 1)
	img := encodeBytes(t, src)
	frame := binary.LittleEndian.AppendUint64([]byte(frameMagic), uint64(len(img)))
	for _, cut := range []int{len(frame) + 40, len(frame) + len(img)/2, len(frame) + len(img) - 1} {
		a, b := pipe(t)
		dst := emptyState(m)
		done := receive(b, dst)
		if _, err := a.Write(append(frame, img...)[:cut]); err != nil {
			t.Fatal(err)
		}
		a.Close()
		r := <-done
		if !errors.Is(r.err, io.ErrUnexpectedEOF) || !strings.Contains(r.err.Error(), "truncated") {
			t.Errorf("cut at %d: %v", cut, r.err)
		}
		if dst.Pos != 0 && !untouched(dst) {
			t.Errorf("cut at %d: destination neither untouched nor invalid (pos %d)", cut, dst.Pos)
		}
		if cut > len(frame)+len(img)/2 && dst.Pos != 0 {
			t.Errorf("cut at %d: pos %d, want 0", cut, dst.Pos)
		}
	}
}

// TestSendPeerGone checks that Send fails, not hangs, when the receiver
// closes the connection midway.
func TestSendPeerGone(t *testing.T) {
	m := testMeta(device.KVBF16, 4, 512, 600)
	a, b := pipe(t)
	go func() {
		io.CopyN(io.Discard, b, 1<<20)
		b.Close()
	}()
	if _, err := Send(a, newState(m, 512, 1)); err == nil {
		t.Fatal("send to a closed peer: no error")
	}
}

func TestReceiveNotASnapshot(t *testing.T) {
	a, b := pipe(t)
	dst := emptyState(testMeta(device.KVBF16, 1, 8, 8))
	done := receive(b, dst)
	a.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	if r := <-done; r.err == nil || !strings.Contains(r.err.Error(), "magic") {
		t.Errorf("err = %v", r.err)
	}
	if !untouched(dst) {
		t.Error("destination touched")
	}
}

// TestReceiveBadHeader sends a frame whose snapshot header is corrupt: the
// sender learns why and the destination is untouched.
func TestReceiveBadHeader(t *testing.T) {
	m := testMeta(device.KVBF16, 1, 8, 8)
	img := encodeBytes(t, newState(m, 4, 1))
	img[20] ^= 0x01
	a, b := pipe(t)
	dst := emptyState(m)
	done := receive(b, dst)
	var buf bytes.Buffer
	buf.WriteString(frameMagic)
	binary.Write(&buf, binary.LittleEndian, uint64(len(img)))
	buf.Write(img)
	if _, err := a.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err == nil || !untouched(dst) {
		t.Fatalf("receive: %v", r.err)
	}
	reply := make([]byte, 12)
	if _, err := io.ReadFull(a, reply); err != nil || string(reply[:8]) != replyErr {
		t.Errorf("reply %q, %v", reply, err)
	}
}
