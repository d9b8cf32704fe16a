package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/wasmgpu/wasmgpu/report"
	"github.com/wasmgpu/wasmgpu/results"
)

// parseCommand parses a command's flags. Its usage is the synopsis and the
// flags (head, when set, writes what comes before the flags instead); -h
// prints it on stdout and returns code 0 with ok false; a bad flag returns
// 2.
func parseCommand(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, synopsis string, head ...func(io.Writer)) (code int, ok bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		if len(head) > 0 {
			head[0](fs.Output())
		} else {
			fmt.Fprintf(fs.Output(), "usage: %s\n\nflags:\n", synopsis)
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

func compareMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("harness compare", flag.ContinueOnError)
	threshold := fs.Float64("threshold", 0.05, "the smallest slowdown (a fraction) that counts as a regression")
	noise := fs.String("noise", "", "run-to-run noise calibration (harness noise) to judge differences against")
	force := fs.Bool("force", false, "compare files of different experiments, specs, profiles, backends or devices")
	format := fs.String("format", "table", "table, md or csv")
	if code, ok := parseCommand(fs, args, stdout, stderr, "harness compare [-threshold f] [-noise NOISE.json] [-force] [-format F] BASE.json NEW.json [MORE.json…]"); !ok {
		return code
	}
	if fs.NArg() < 2 {
		fs.Usage()
		return 2
	}
	if !(*threshold >= 0) {
		return fail(stderr, 2, "compare: -threshold must be ≥ 0, got %g", *threshold)
	}
	o := report.CompareOptions{Threshold: *threshold, Force: *force}
	var err error
	if o.Format, err = report.ParseFormat(*format); err != nil {
		return fail(stderr, 2, "compare: -format: %v", err)
	}
	if *noise != "" {
		if o.Noise, err = results.LoadNoise(*noise); err != nil {
			return fail(stderr, 1, "compare: %v", err)
		}
	}
	files, labels, err := loadAll(fs.Args())
	if err != nil {
		return fail(stderr, 1, "compare: %v", err)
	}
	regressed, err := report.Compare(stdout, files, labels, o)
	switch {
	case errors.Is(err, report.ErrIncomparable):
		return fail(stderr, 2, "compare: %v", err)
	case err != nil:
		return fail(stderr, 1, "compare: %v", err)
	case regressed:
		fmt.Fprintln(stderr, "harness compare: a significant slowdown beyond its row's min Δ")
		return 1
	}
	return 0
}

// loadAll reads result files and labels them by the shortest distinct
// names: the base name, or more of the path where base names repeat.
func loadAll(paths []string) ([]*results.File, []string, error) {
	var files []*results.File
	for _, p := range paths {
		f, err := results.Load(p)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, f)
	}
	labels := make([]string, len(paths))
	seen := map[string]int{}
	for i, p := range paths {
		labels[i] = strings.TrimSuffix(filepath.Base(p), ".json")
		seen[labels[i]]++
	}
	for i, p := range paths {
		if seen[labels[i]] > 1 {
			labels[i] = strings.TrimSuffix(p, ".json")
		}
	}
	return files, labels, nil
}

func noiseMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("harness noise", flag.ContinueOnError)
	out := fs.String("o", "", "where to write the calibration (JSON)")
	if code, ok := parseCommand(fs, args, stdout, stderr, "harness noise -o NOISE.json RUN.json RUN.json RUN.json…  (k ≥ 3 runs of one commit, spec and machine)"); !ok {
		return code
	}
	if *out == "" || fs.NArg() < 3 {
		fs.Usage()
		return 2
	}
	files, _, err := loadAll(fs.Args())
	if err != nil {
		return fail(stderr, 1, "noise: %v", err)
	}
	n, err := results.Calibrate(files)
	if err != nil {
		return fail(stderr, 2, "noise: %v", err)
	}
	if err := n.WriteAtomic(*out); err != nil {
		return fail(stderr, 1, "noise: %v", err)
	}
	g := report.Grid{Header: []string{"case", "runs", "σ(log)", "band"}, Right: []bool{false, true, true, true}}
	for _, c := range files[0].Cases {
		if cn, ok := n.Cases[c.Name()]; ok {
			g.Rows = append(g.Rows, []string{c.Name(), fmt.Sprint(cn.Runs), fmt.Sprintf("%.4f", cn.SigmaLog), fmt.Sprintf("%.1f%%", cn.Band*100)})
		}
	}
	if err := g.Render(stdout, report.Terminal); err != nil {
		return fail(stderr, 1, "noise: %v", err)
	}
	fmt.Fprintf(stderr, "harness noise: wrote %s (%d runs, %d cases)\n", *out, n.Runs, len(n.Cases))
	return 0
}

func reportMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("harness report", flag.ContinueOnError)
	format := fs.String("format", "table", "table, md or csv")
	figs := fs.String("figures", "", "draw the figures into this folder")
	if code, ok := parseCommand(fs, args, stdout, stderr, "harness report [-format F] [-figures DIR] RESULT.json"); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	ft, err := report.ParseFormat(*format)
	if err != nil {
		return fail(stderr, 2, "report: -format: %v", err)
	}
	f, err := results.Load(fs.Arg(0))
	if err != nil {
		return fail(stderr, 1, "report: %v", err)
	}
	drv, err := findDriver(f.Experiment)
	if err != nil {
		return fail(stderr, 1, "report: %s: %v", fs.Arg(0), err)
	}
	if ft == report.Markdown {
		err = markdown(stdout, drv, f)
	} else {
		err = drv.Table(stdout, f, ft)
	}
	if err != nil {
		return fail(stderr, 1, "report: %v", err)
	}
	if *figs != "" {
		paths, err := figures(*figs, drv, f)
		for _, p := range paths {
			fmt.Fprintf(stderr, "harness report: wrote %s.png and .svg\n", p)
		}
		if err != nil {
			return fail(stderr, 1, "report: %v", err)
		}
	}
	return 0
}
