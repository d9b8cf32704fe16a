package kv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/snapshot"
)

// Conversation is a session whose state can be snapshotted and restored.
// It builds snapshot.State views straight over the session's state region
// (header, token ids, KV cache in the guest's linear memory or the native
// engine's device memory), so Save and Restore move the cache between that
// memory and the file or socket with no staging copy.
type Conversation struct {
	// S is the session.
	S llmhost.Session
	// Meta identifies the model and source (Fingerprint, Tokenizer,
	// SourceDevice, SourceMode); the geometry fields are filled from the
	// state region's header.
	Meta snapshot.Meta
}

// Fingerprint identifies a model for snapshots: its config hash and its
// weights' source, e.g. "cfg:sha256:<hex>/synthetic:1". A snapshot restores
// only into a conversation with the same fingerprint.
func Fingerprint(cfg models.Config, weightsSource string) string {
	return "cfg:" + cfg.Hash() + "/" + weightsSource
}

// view returns the session's state region and a snapshot.State whose Tokens,
// K and V alias it. Its Pos and Next are the header's.
func (c *Conversation) view(ctx context.Context) ([]byte, *snapshot.State, error) {
	region, err := c.S.State(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("state region: %w", err)
	}
	m := c.Meta
	m.Vocab = c.S.Config().VocabSize // a restore checks the tokens before it writes
	st, err := llmhost.StateView(region, m)
	if err != nil {
		return nil, nil, err
	}
	return region, st, nil
}

// source returns the state to save, after waiting for the device's queued
// work so the cache bytes are final.
func (c *Conversation) source(ctx context.Context) (*snapshot.State, error) {
	if err := c.S.Memory().Sync(); err != nil {
		return nil, fmt.Errorf("sync before snapshot: %w", err)
	}
	_, st, err := c.view(ctx)
	return st, err
}

// Save writes the conversation's snapshot to path (atomically, fsynced; see
// snapshot.Save) and returns its size in bytes.
func (c *Conversation) Save(ctx context.Context, path string) (int64, error) {
	st, err := c.source(ctx)
	if err != nil {
		return 0, fmt.Errorf("save %s: %w", path, err)
	}
	return snapshot.Save(path, st)
}

// WriteTo writes the conversation's snapshot to w.
func (c *Conversation) WriteTo(ctx context.Context, w io.Writer) (int64, error) {
	st, err := c.source(ctx)
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	return snapshot.WriteTo(w, st)
}

// Send migrates the conversation to the peer's Receive over conn and
// returns the snapshot's size; it returns once the peer has restored it.
func (c *Conversation) Send(ctx context.Context, conn io.ReadWriter) (int64, error) {
	st, err := c.source(ctx)
	if err != nil {
		return 0, fmt.Errorf("snapshot send: %w", err)
	}
	return snapshot.Send(conn, st)
}

// Restore reads the snapshot at path into the session's state region and
// resumes the conversation there; the next token is then Next.
func (c *Conversation) Restore(ctx context.Context, path string) (snapshot.Info, error) {
	return c.restore(ctx, func(st *snapshot.State) (snapshot.Info, error) { return snapshot.Restore(path, st) })
}

// ReadFrom reads a snapshot that WriteTo wrote from r and resumes it.
func (c *Conversation) ReadFrom(ctx context.Context, r io.Reader) (snapshot.Info, error) {
	return c.restore(ctx, func(st *snapshot.State) (snapshot.Info, error) { return snapshot.ReadFrom(r, st) })
}

// Receive restores the snapshot a peer's Send writes on conn and resumes it.
func (c *Conversation) Receive(ctx context.Context, conn io.ReadWriter) (snapshot.Info, error) {
	return c.restore(ctx, func(st *snapshot.State) (snapshot.Info, error) { return snapshot.Receive(conn, st) })
}

// restore runs read into views of the state region, then writes the
// restored position and next token into the header and lets the engine
// adopt them (Resume). Each piece of cache that lands is handed to the
// session's memory (llmhost.Landed), which on managed memory starts moving
// it to the GPU while the rest is read. A snapshot refused before any data
// landed leaves the session as it was; a failure after that (truncated,
// corrupt) resets the session, so it never claims a position whose cache is
// half written. A failure to move landed rows (a driver error) is returned
// after the conversation has resumed.
func (c *Conversation) restore(ctx context.Context, read func(*snapshot.State) (snapshot.Info, error)) (snapshot.Info, error) {
	region, st, err := c.view(ctx)
	if err != nil {
		return snapshot.Info{}, fmt.Errorf("restore: %w", err)
	}
	// Rows start moving to where the kernels read them as they land.
	var placeErr error
	st.Landed = func(b []byte) {
		if err := llmhost.Landed(c.S, b); err != nil && placeErr == nil {
			placeErr = err
		}
	}
	info, err := read(st)
	if err != nil {
		if st.Pos == 0 {
			if rerr := c.S.Reset(ctx); rerr != nil {
				err = errors.Join(err, fmt.Errorf("reset after a failed restore: %w", rerr))
			}
		}
		return info, err
	}
	llm.SetStatePosition(region, st.Pos, st.Next)
	if err := c.S.Resume(ctx); err != nil {
		return info, fmt.Errorf("resume after restore: %w", err)
	}
	if placeErr != nil {
		return info, fmt.Errorf("restore: %w", placeErr)
	}
	return info, nil
}

// Next is the predicted next token the header holds (snapshot.NoToken if
// none): after a restore, the token the conversation continues with.
func (c *Conversation) Next(ctx context.Context) (int32, error) {
	_, st, err := c.view(ctx)
	if err != nil {
		return 0, err
	}
	return st.Next, nil
}

// Migrate moves src's conversation into dst over a new TCP connection to
// ln, on which dst receives in its own goroutine, and returns the bytes sent
// once dst has resumed. Neither session may be used by anyone else meanwhile.
func Migrate(ctx context.Context, ln net.Listener, src, dst *Conversation) (int64, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Minute)
	}
	recv := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			recv <- fmt.Errorf("accept: %w", err)
			return
		}
		defer conn.Close()
		conn.SetDeadline(deadline)
		_, err = dst.Receive(ctx, conn)
		recv <- err
	}()
	var d net.Dialer
	conn, err := d.DialContext(ctx, ln.Addr().Network(), ln.Addr().String())
	if err != nil {
		ln.Close() // unblocks Accept; the listener is useless now anyway
		return 0, errors.Join(fmt.Errorf("migrate: dial: %w", err), <-recv)
	}
	conn.SetDeadline(deadline)
	n, err := src.Send(ctx, conn)
	conn.Close() // done either way; a receiver still waiting for data gets EOF
	if rerr := <-recv; rerr != nil {
		return n, errors.Join(err, fmt.Errorf("migrate: receiver: %w", rerr))
	}
	if err != nil {
		return n, fmt.Errorf("migrate: %w", err)
	}
	return n, nil
}
