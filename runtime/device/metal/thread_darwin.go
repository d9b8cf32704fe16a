//go:build darwin

package metal

import (
	"errors"
	"fmt"
	"runtime"
)

// thread_darwin.go runs all Metal work on one goroutine locked to one OS
// thread. Metal objects may be used from any thread, but autorelease pools
// are per thread and strictly nested, and Objective-C code run on a thread
// that has no pool leaks what it autoreleases. One locked thread with a pool
// per request makes both rules easy to keep, and serializes the backend's use
// of its command queue.

// errClosed is returned for requests made after the device was closed.
var errClosed = errors.New("metal: device is closed")

// request is one unit of work for the Metal thread.
type request struct {
	fn    func() error
	reply chan error
}

// worker owns the locked OS thread.
type worker struct {
	reqs chan request
	quit chan struct{}
	done chan struct{}
}

// startWorker starts the Metal thread.
func startWorker() *worker {
	w := &worker{reqs: make(chan request), quit: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// loop serves requests until stop. It never unlocks the thread: when the
// goroutine exits still locked, the Go runtime ends the OS thread with it, so
// no other goroutine inherits a thread Objective-C has touched.
func (w *worker) loop() {
	runtime.LockOSThread()
	defer close(w.done)
	for {
		select {
		case r := <-w.reqs:
			r.reply <- runInPool(r.fn)
		case <-w.quit:
			return
		}
	}
}

// runInPool runs fn inside its own autorelease pool, draining everything fn
// autoreleased (command buffers, descriptors, NSErrors) when it returns, and
// turns a panic (a purego misuse, never bad input) into an error so the
// thread survives.
func runInPool(fn func() error) (err error) {
	pool := rt.poolPush()
	defer rt.poolPop(pool)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("metal: internal error on the Metal thread: %v", p)
		}
	}()
	return fn()
}

// do runs fn on the Metal thread and waits for its result. fn must not call
// do (the thread would wait on itself).
func (w *worker) do(fn func() error) error {
	reply := make(chan error, 1)
	select {
	case w.reqs <- request{fn: fn, reply: reply}:
		return <-reply
	case <-w.done:
		return errClosed
	}
}

// stop ends the Metal thread after the request in progress, if any.
func (w *worker) stop() {
	select {
	case <-w.done:
	default:
		close(w.quit)
		<-w.done
	}
}
