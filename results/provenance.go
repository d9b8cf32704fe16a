package results

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// CollectProvenance returns the host part of a Provenance: the commit and
// dirtiness of the code that is running, Go version, OS and architecture,
// CPU model and core count, hostname, the host's environment (Host) and
// os.Args. The commit is the one the
// Go toolchain stamped into the binary when it was built in a checkout
// (vcs.revision, vcs.modified): a binary cross-built here and run on a GPU
// machine reports the code it was built from, whatever checkout, stale or
// none, it runs in. A binary without a stamp (built with -buildvcs=false,
// as `go run` may be) falls back to the current directory's work tree
// (tracked files only: new result files do not make the code dirty). Facts
// that cannot be found (no git, no /proc) are left empty; it never fails.
// The caller fills Device, Mode, Weights and DTypes.
func CollectProvenance() Provenance {
	p := Provenance{
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		CPUModel:  cpuModel(),
		CPUCores:  runtime.NumCPU(),
		Host:      CollectHost(),
		Args:      append([]string(nil), os.Args...),
	}
	p.Hostname, _ = os.Hostname()
	if p.GitCommit, p.GitDirty = buildRevision(); p.GitCommit != "" {
		return p
	}
	if out, err := command("git", "rev-parse", "HEAD"); err == nil {
		p.GitCommit = strings.TrimSpace(out)
		if st, err := command("git", "status", "--porcelain", "--untracked-files=no"); err == nil {
			p.GitDirty = strings.TrimSpace(st) != ""
		}
	}
	return p
}

// buildRevision returns the vcs.revision and vcs.modified the go command
// embeds when it builds inside a git checkout, or "" if there are none.
func buildRevision() (string, bool) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	return rev, dirty
}

// command runs a short external command with a time limit and returns its
// standard output.
func command(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	return string(out), err
}

// cpuModel returns the CPU's marketing name, or "" if it cannot be found.
func cpuModel() string {
	switch runtime.GOOS {
	case "darwin":
		if out, err := command("sysctl", "-n", "machdep.cpu.brand_string"); err == nil {
			return strings.TrimSpace(out)
		}
		return ""
	case "linux":
		data, err := os.ReadFile("/proc/cpuinfo")
		if err != nil {
			return ""
		}
		return parseCPUInfo(data)
	}
	return ""
}

// parseCPUInfo finds the model name in /proc/cpuinfo contents. x86 has
// "model name"; arm64 kernels may have only "Hardware" or "CPU part", of
// which the first present is used.
func parseCPUInfo(data []byte) string {
	found := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, seen := found[k]; !seen && v != "" {
			found[k] = v
		}
	}
	for _, k := range []string{"model name", "Model", "Hardware", "cpu model", "CPU part"} {
		if v := found[k]; v != "" {
			return v
		}
	}
	return ""
}
