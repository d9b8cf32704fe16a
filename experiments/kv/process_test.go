package kv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// helperPrefix starts the line on which the helper process reports its
// continuation.
const helperPrefix = "KV-HELPER-TOKENS:"

// TestSnapshotCrossesProcesses migrates a conversation to another process
// over loopback TCP: this test binary runs itself again as the receiver
// (TestHelperProcess), which restores the snapshot into its own guest,
// continues the conversation and prints its tokens. They must be the
// uninterrupted conversation's.
func TestSnapshotCrossesProcesses(t *testing.T) {
	if os.Getenv(testHelpEnv) != "" {
		t.Skip("inside the helper process")
	}
	m := newModel(t, nil, models.Tiny(), testSeed, device.KVBF16)
	want := start(t, m.ctx, m.open(t, "wasm", device.ZeroCopy), m.prompt(), testSteps)
	src := m.open(t, "wasm", device.ZeroCopy)
	before := start(t, m.ctx, src, m.prompt(), testSnapAt)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(m.ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), testHelpEnv+"="+ln.Addr().String(), testCacheEnv+"="+cacheDir)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sendErr := func() error {
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(time.Minute))
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(time.Minute))
		_, err = src.Send(m.ctx, conn)
		return err
	}()
	waitErr := cmd.Wait()
	if sendErr != nil || waitErr != nil {
		t.Fatalf("send: %v; helper: %v\nhelper stdout:\n%s\nhelper stderr:\n%s", sendErr, waitErr, out.String(), errOut.String())
	}
	got, err := helperTokens(out.String())
	if err != nil {
		t.Fatalf("%v\nhelper stdout:\n%s", err, out.String())
	}
	// The helper starts from the restored next token, the source's last.
	if len(got) == 0 || got[0] != before[len(before)-1] {
		t.Fatalf("helper resumed with %v, the source's next token was %d", got, before[len(before)-1])
	}
	if full := append(slices.Clone(before), got[1:]...); !slices.Equal(full, want) {
		t.Fatalf("continuation in another process\n got %v\nwant %v", full, want)
	}
}

// TestHelperProcess is the receiving process of TestSnapshotCrossesProcesses;
// it does nothing unless run by it.
func TestHelperProcess(t *testing.T) {
	addr := os.Getenv(testHelpEnv)
	if addr == "" {
		t.Skip("run by TestSnapshotCrossesProcesses")
	}
	m := newModel(t, nil, models.Tiny(), testSeed, device.KVBF16)
	dst := m.open(t, "wasm", device.ZeroCopy)
	conn, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	info, err := dst.Receive(m.ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	toks := append([]int32{info.Next}, more(t, m.ctx, dst, info.Next, testSteps-testSnapAt)...)
	fmt.Println(helperPrefix, strings.Trim(fmt.Sprint(toks), "[]"))
}

// helperTokens parses the helper's token line.
func helperTokens(out string) ([]int32, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), helperPrefix)
		if !ok {
			continue
		}
		var toks []int32
		for _, f := range strings.Fields(rest) {
			v, err := strconv.ParseInt(f, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("helper token %q: %w", f, err)
			}
			toks = append(toks, int32(v))
		}
		return toks, nil
	}
	return nil, fmt.Errorf("no %s line from the helper", helperPrefix)
}
