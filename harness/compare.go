package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wasmgpu/wasmgpu/report"
	"github.com/wasmgpu/wasmgpu/results"
)

func compareMain(args []string) int {
	fs := flag.NewFlagSet("harness compare", flag.ContinueOnError)
	threshold := fs.Float64("threshold", 0.05, "a significant slowdown larger than this fraction fails the comparison")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: harness compare [-threshold f] OLD.json NEW.json\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return 2
	}
	if *threshold < 0 {
		return fail(2, "compare: -threshold must be ≥ 0, got %g", *threshold)
	}
	old, err := results.Load(fs.Arg(0))
	if err != nil {
		return fail(1, "compare: %v", err)
	}
	cur, err := results.Load(fs.Arg(1))
	if err != nil {
		return fail(1, "compare: %v", err)
	}
	regressed, err := report.Compare(os.Stdout, old, cur, *threshold)
	if err != nil {
		return fail(1, "compare: %v", err)
	}
	if regressed {
		fmt.Fprintf(os.Stderr, "harness compare: significant regression beyond %.1f%%\n", *threshold*100)
		return 1
	}
	return 0
}
