package experiments

import (
	"context"
	"io"

	"github.com/wasmgpu/wasmgpu/report"
	"github.com/wasmgpu/wasmgpu/results"
)

// Driver is one experiment kind as the harness sees it: adding an
// experiment is a spec in experiments/ and a Driver in the harness's list.
type Driver struct {
	// Name is the kind, matching a spec's `experiment:` field.
	Name string
	// About is one line for the harness's help.
	About string
	// SetKeys are the keys -set takes, e.g. "prompt"; the first picks the
	// cases.
	SetKeys []string
	// Warmup says whether the experiment has warm-up calls apart from its
	// repetitions (-warmup applies).
	Warmup bool
	// UsesModel says whether -model applies.
	UsesModel bool
	// Check parses and validates the spec (data, read from path), so a bad
	// spec is refused before a device is opened.
	Check func(path string, data []byte) error
	// Run parses the spec (data, read from path) and runs it on env.
	Run func(ctx context.Context, env *Env, path string, data []byte) (*results.File, error)
	// Table writes the result table in format; the terminal format may
	// leave detail columns out (they are in the Markdown file).
	Table func(w io.Writer, f *results.File, format report.Format) error
	// Figures draws the figures into dir as stem-*.png and .svg and returns
	// their paths without extension.
	Figures func(dir, stem string, f *results.File) ([]string, error)
}

// Define makes a Driver's Check and Run from a strict spec parser and a
// runner of the parsed spec.
func Define[S any](d Driver, parse func(path string, data []byte) (S, error), run func(context.Context, *Env, S) (*results.File, error)) Driver {
	d.Check = func(path string, data []byte) error {
		_, err := parse(path, data)
		return err
	}
	d.Run = func(ctx context.Context, env *Env, path string, data []byte) (*results.File, error) {
		s, err := parse(path, data)
		if err != nil {
			return nil, err
		}
		return run(ctx, env, s)
	}
	return d
}
