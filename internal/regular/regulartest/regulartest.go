// Package regulartest gives the tests of code that opens data files through
// internal/regular the hostile file it guards against and a hang detector.
// A FIFO nobody writes to makes a plain open block for ever, so a test that
// hands one over runs the call under Within: a missing guard then fails the
// test instead of hanging it.
package regulartest

import (
	"os"
	"testing"
	"time"
)

// watchdog is how long Within waits: far beyond any call's time, so it
// detects hangs and is no timing threshold.
const watchdog = 30 * time.Second

// FIFO replaces path with a FIFO nobody writes to, or skips the test where
// the system makes none.
func FIFO(t testing.TB, path string) {
	t.Helper()
	os.Remove(path)
	if err := mkfifo(path); err != nil {
		t.Skip(err)
	}
}

// Within runs f and fails the test, naming what, if f has not returned after
// 30 s.
func Within(t testing.TB, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(watchdog):
		t.Fatalf("%s still blocks after %v", what, watchdog)
	}
}
