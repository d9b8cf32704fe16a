package cuda

import (
	"os"
	"path/filepath"
	"strings"
)

// pcieLink reads the GPU's PCIe link from sysfs: the driver API has no
// attribute for it (NVML has, but is one more library to load). Keys:
// pcie_link ("gen5 x16"), pcie_max_link, and the raw speed strings. Empty if
// sysfs lacks the device (not Linux, or a VM that hides it).
func pcieLink(busID string) map[string]string {
	id := strings.ToLower(busID)
	// cuDeviceGetPCIBusId writes domain:bus:device.function; sysfs wants a
	// 4-digit domain, the driver may give 8.
	if parts := strings.SplitN(id, ":", 2); len(parts) == 2 && len(parts[0]) > 4 {
		id = parts[0][len(parts[0])-4:] + ":" + parts[1]
	}
	dir := filepath.Join("/sys/bus/pci/devices", id)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	out := map[string]string{}
	for _, which := range []string{"current", "max"} {
		speed, width := read(which+"_link_speed"), read(which+"_link_width")
		if speed == "" {
			continue
		}
		key := "pcie_link"
		if which == "max" {
			key = "pcie_max_link"
		}
		out[key] = pcieGen(speed) + " x" + width
		out[key+"_speed"] = speed
	}
	return out
}

// pcieGen maps a sysfs link speed ("32.0 GT/s PCIe") to its generation.
func pcieGen(speed string) string {
	f := strings.Fields(speed)
	if len(f) == 0 {
		return "unknown"
	}
	switch f[0] {
	case "2.5":
		return "gen1"
	case "5.0", "5":
		return "gen2"
	case "8.0", "8":
		return "gen3"
	case "16.0", "16":
		return "gen4"
	case "32.0", "32":
		return "gen5"
	case "64.0", "64":
		return "gen6"
	}
	return "unknown(" + f[0] + ")"
}
