package wasm

import (
	"fmt"
	"time"
)

// Limits bound what one guest may take from the host. Every guest of a
// Runtime gets them (Config.Limits); each guest is bounded on its own. The
// memory limit is Config.MaxMemory, which wazero applies to the whole
// runtime (every instance reserves that much address space).
//
// What each limit does when it is reached:
//
//   - CallTimeout, SessionTimeout: the guest is stopped within milliseconds,
//     whatever it is doing: a loop with no host call (wazero's
//     WithCloseOnContextDone makes compiled loops check), a loop of host
//     calls (each host call checks), or a long kernel (the cpu device's
//     parallel loops check between chunks; a GPU kernel runs to its end).
//     The call returns a *LimitError naming the limit (it wraps
//     context.DeadlineExceeded), the guest is closed and its memory
//     released; other guests are not touched. The deadline or cancellation
//     of the caller's own context stops the guest the same way, and the call
//     returns the context's error; so does Guest.Close from another
//     goroutine, with ErrClosed.
//   - MaxCallWork: a host kernel call (or a program's run) that asks for
//     more multiply-adds is refused before any work, with a *TrapError that
//     wraps a *LimitError; the guest call traps and the guest lives on.
//   - MaxScratch: a device that would hold more host memory for the guest's
//     kernels (the cpu device's copy-mode staging) refuses the kernel the
//     same way. The scratch is released when the guest is closed.
//
// Zero fields take the defaults below; a negative timeout means none.
type Limits struct {
	// CallTimeout bounds one call into the guest (Guest.Call, and the
	// guest's _initialize in Instantiate). Zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// SessionTimeout bounds the guest's life from Instantiate: a call that
	// would run past it is stopped there, and later calls are refused.
	// Zero means DefaultSessionTimeout.
	SessionTimeout time.Duration
	// MaxCallWork is the most multiply-adds one host kernel call may ask
	// for (matmul's m·n·k, a projection's n·out·in, attention's
	// 2·n·(pos+n)·heads·headDim); the other kernels do work proportional
	// to bytes already in the guest's memory. A program's run
	// (llm_program_run) is one host call that a GPU runs to its end: the
	// work of its calls together is held to it. Zero means
	// DefaultMaxCallWork; math.MaxUint64 means no limit.
	MaxCallWork uint64
	// MaxScratch is the most host bytes a device may hold for the guest's
	// kernels beyond its linear memory. Zero means as many as the linear
	// memory limit; math.MaxUint64 means no limit.
	MaxScratch uint64
}

// The defaults of Limits.
const (
	// DefaultCallTimeout is generous for this project's largest calls (a
	// 4096-token prefill of Llama 3.2 1B on two cpu cores takes about 70 s)
	// while still ending a runaway guest.
	DefaultCallTimeout = 10 * time.Minute
	// DefaultSessionTimeout bounds a guest's life to a day: long enough for
	// any experiment run here, short enough that no guest lives for ever.
	DefaultSessionTimeout = 24 * time.Hour
	// DefaultMaxCallWork (2^38, about 2.7·10^11 multiply-adds, seconds of
	// a cpu's time) admits twice the largest call this project makes: the
	// logits of a 512-token chunk of Llama 3.2 1B (512·128256·2048).
	DefaultMaxCallWork = 1 << 38
)

// resolve returns l with its zero fields set to the defaults; maxMemory is
// the runtime's linear-memory limit.
func (l Limits) resolve(maxMemory uint64) Limits {
	if l.CallTimeout == 0 {
		l.CallTimeout = DefaultCallTimeout
	}
	if l.SessionTimeout == 0 {
		l.SessionTimeout = DefaultSessionTimeout
	}
	if l.MaxCallWork == 0 {
		l.MaxCallWork = DefaultMaxCallWork
	}
	if l.MaxScratch == 0 {
		l.MaxScratch = maxMemory
	}
	return l
}

// LimitError is a guest call stopped, or a kernel call refused, by one of
// the guest's Limits.
type LimitError struct {
	// Limit is the Limits field at fault: "CallTimeout", "SessionTimeout",
	// "MaxCallWork" or "MaxScratch".
	Limit string
	Msg   string
	// Err is context.DeadlineExceeded for the timeouts, nil otherwise.
	Err error
}

func (e *LimitError) Error() string { return fmt.Sprintf("guest limit %s: %s", e.Limit, e.Msg) }

// Unwrap returns Err.
func (e *LimitError) Unwrap() error { return e.Err }
