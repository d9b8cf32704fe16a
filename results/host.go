package results

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/cpu"
)

// Host is the environment a run measured in, beyond the CPU model: what
// makes two runs of the same code on "the same" machine differ. compare
// lists the fields that differ between two files.
type Host struct {
	Kernel   string   `json:"kernel,omitempty"`    // OS kernel release, e.g. "6.1.0-28-amd64"
	CPUFlags []string `json:"cpu_flags,omitempty"` // vector features the kernels may use: avx2, fma, avx512f, …
	GOAMD64  string   `json:"goamd64,omitempty"`   // the binary's GOAMD64 level (amd64 only)
	// MemoryBytes is the machine's RAM (MemTotal); llama and kv need about
	// 4.1 GB at their peak.
	MemoryBytes uint64 `json:"memory_bytes,omitempty"`
	Governor    string `json:"cpu_governor,omitempty"` // cpufreq scaling governor of CPU 0, "" without cpufreq
	// LoadStart and LoadEnd are the 1, 5 and 15 minute load averages when
	// the run began and ended: a shared machine's other tenants show here.
	LoadStart []float64 `json:"load_avg_start,omitempty"`
	LoadEnd   []float64 `json:"load_avg_end,omitempty"`
	// GPU holds what nvidia-smi reports about the GPUs where it is
	// installed: clocks, their maxima and the power limit.
	GPU []string `json:"gpu,omitempty"`
}

// CollectHost reads the host's environment; facts that cannot be found are
// left empty. LoadEnd is for the caller to set with LoadAverage when the
// run ends.
func CollectHost() Host {
	h := Host{
		Kernel:      kernelRelease(),
		CPUFlags:    cpuFlags(),
		GOAMD64:     buildSetting("GOAMD64"),
		MemoryBytes: memTotal(),
		Governor:    strings.TrimSpace(readFile("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")),
		LoadStart:   LoadAverage(),
		GPU:         nvidiaSMI(),
	}
	if runtime.GOARCH == "amd64" && h.GOAMD64 == "" {
		h.GOAMD64 = "v1"
	}
	return h
}

// Diff lists the fields of h and o that differ, as "field: a ≠ b". Load
// averages are not compared (they always differ); Diff is what makes two
// runs' hosts different machines in effect.
func (h Host) Diff(o Host) []string {
	var out []string
	add := func(field, a, b string) {
		if a != b {
			out = append(out, field+": "+a+" ≠ "+b)
		}
	}
	add("kernel", h.Kernel, o.Kernel)
	add("cpu flags", strings.Join(h.CPUFlags, " "), strings.Join(o.CPUFlags, " "))
	add("GOAMD64", h.GOAMD64, o.GOAMD64)
	add("memory", strconv.FormatUint(h.MemoryBytes, 10), strconv.FormatUint(o.MemoryBytes, 10))
	add("cpu governor", h.Governor, o.Governor)
	add("gpu", strings.Join(h.GPU, "; "), strings.Join(o.GPU, "; "))
	return out
}

// LoadAverage returns the 1, 5 and 15 minute load averages, or nil where
// /proc/loadavg does not exist.
func LoadAverage() []float64 {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return nil
	}
	out := make([]float64, 3)
	for i := range out {
		x, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil
		}
		out[i] = x
	}
	return out
}

// cpuFlags lists the vector features golang.org/x/sys/cpu detects (and the
// OS enables), the ones wasmgpu's kernels choose between.
func cpuFlags() []string {
	var out []string
	for _, f := range []struct {
		name string
		has  bool
	}{
		{"sse4.2", cpu.X86.HasSSE42}, {"avx", cpu.X86.HasAVX}, {"avx2", cpu.X86.HasAVX2}, {"fma", cpu.X86.HasFMA},
		{"f16c", cpu.X86.HasF16C}, {"avx512f", cpu.X86.HasAVX512F}, {"avx512bw", cpu.X86.HasAVX512BW},
		{"avx512vl", cpu.X86.HasAVX512VL}, {"avx512bf16", cpu.X86.HasAVX512BF16},
		{"asimd", cpu.ARM64.HasASIMD}, {"fphp", cpu.ARM64.HasFPHP}, {"asimddp", cpu.ARM64.HasASIMDDP},
	} {
		if f.has {
			out = append(out, f.name)
		}
	}
	return out
}

// buildSetting returns a setting the go command stamped into the binary
// (GOAMD64, CGO_ENABLED, vcs.revision, …), or "".
func buildSetting(key string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

func kernelRelease() string {
	if v := strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")); v != "" {
		return v
	}
	if runtime.GOOS == "darwin" {
		if out, err := command("uname", "-r"); err == nil {
			return strings.TrimSpace(out)
		}
	}
	return ""
}

// memTotal is MemTotal of /proc/meminfo in bytes (sysctl hw.memsize on
// macOS), 0 if unknown.
func memTotal() uint64 {
	if runtime.GOOS == "darwin" {
		out, err := command("sysctl", "-n", "hw.memsize")
		if err != nil {
			return 0
		}
		n, _ := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
		return n
	}
	return parseMemTotal([]byte(readFile("/proc/meminfo")))
}

func parseMemTotal(data []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseUint(f[0], 10, 64)
				if err == nil {
					return kb * 1024
				}
			}
		}
	}
	return 0
}

// nvidiaSMI asks nvidia-smi, where it is installed, for each GPU's current
// and maximum clocks and power limit: facts a driver-API backend does not
// expose and that move a GPU's timings.
func nvidiaSMI() []string {
	if runtime.GOOS != "linux" {
		return nil
	}
	out, err := command("nvidia-smi", "--query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,power.limit,persistence_mode",
		"--format=csv,noheader")
	if err != nil {
		return nil
	}
	var gpus []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			gpus = append(gpus, "name, sm clock, max sm clock, memory clock, max memory clock, power limit, persistence: "+line)
		}
	}
	return gpus
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}
