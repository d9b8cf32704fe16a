package experiments

import (
	"context"
	"io"

	"github.com/wasmgpu/wasmgpu/results"
)

// Driver is one experiment kind as the harness sees it.
type Driver struct {
	// Name is the kind, matching a spec's `experiment:` field.
	Name string
	// Run loads the spec at path and runs it on env.
	Run func(ctx context.Context, env *Env, path string) (*results.File, error)
	// Table writes the result table, as Markdown when markdown is set.
	Table func(w io.Writer, f *results.File, markdown bool) error
	// Figures draws the figures into dir as stem-*.png and .svg and returns
	// their paths without extension.
	Figures func(dir, stem string, f *results.File) ([]string, error)
}
