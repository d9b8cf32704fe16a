// Package progress shows a progress bar on standard error while an
// experiment runs, and nothing at all where nobody watches: when stderr is
// not a terminal (CI logs, redirected output, tests), when the CI or
// WASMGPU_NO_PROGRESS environment variable is set, or after Disable.
// Keeping bars out of logs keeps result logs diffable.
//
// It is a thin wrapper over github.com/schollz/progressbar/v3.
package progress

import (
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

var disabled atomic.Bool

// Disable turns off every bar created afterwards, e.g. for a --quiet flag.
func Disable() { disabled.Store(true) }

// Enabled reports whether New would draw a bar now.
func Enabled() bool {
	if disabled.Load() || os.Getenv("CI") != "" || os.Getenv("WASMGPU_NO_PROGRESS") != "" {
		return false
	}
	return term.IsTerminal(int(os.Stderr.Fd()))
}

// Bar is a progress bar. A disabled Bar (and the nil *Bar) accepts every
// call and draws nothing, so callers never check.
type Bar struct {
	pb *progressbar.ProgressBar
}

// New returns a bar for total steps labelled desc on stderr, or a disabled
// one (see Enabled). A total ≤ 0 shows a spinner with a count instead.
func New(total int, desc string) *Bar {
	if !Enabled() {
		return &Bar{}
	}
	return NewTo(os.Stderr, total, desc)
}

// NewTo returns a bar drawn on w regardless of Enabled, for callers that
// chose their own output (and for tests).
func NewTo(w io.Writer, total int, desc string) *Bar {
	if total <= 0 {
		total = -1
	}
	return &Bar{pb: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { io.WriteString(w, "\n") }),
	)}
}

// Add advances the bar by n steps.
func (b *Bar) Add(n int) {
	if b == nil || b.pb == nil {
		return
	}
	_ = b.pb.Add(n) // a failed write to the terminal is not worth failing a run
}

// Describe changes the label, e.g. to the case being measured.
func (b *Bar) Describe(desc string) {
	if b == nil || b.pb == nil {
		return
	}
	b.pb.Describe(desc)
}

// Finish fills the bar and ends its line.
func (b *Bar) Finish() {
	if b == nil || b.pb == nil {
		return
	}
	_ = b.pb.Finish()
}
