package main

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/experiments/kv"
	"github.com/wasmgpu/wasmgpu/experiments/llama"
	"github.com/wasmgpu/wasmgpu/experiments/matmul"
	"github.com/wasmgpu/wasmgpu/experiments/tenants"
)

// drivers are the experiment kinds the harness knows, in the order help
// lists them. Adding an experiment is its spec in experiments/ and its
// Driver here.
var drivers = []experiments.Driver{matmul.Driver, llama.Driver, kv.Driver, tenants.Driver}

// driverNames lists the drivers' names.
func driverNames() string {
	names := make([]string, len(drivers))
	for i, d := range drivers {
		names[i] = d.Name
	}
	return strings.Join(names, ", ")
}

// findDriver returns the driver of an experiment kind; an unknown kind is
// an error naming the known ones.
func findDriver(kind string) (experiments.Driver, error) {
	for _, d := range drivers {
		if d.Name == kind {
			return d, nil
		}
	}
	return experiments.Driver{}, fmt.Errorf("unknown experiment %q (known: %s)", kind, driverNames())
}

// specKind reads only the `experiment:` field of a spec, to pick its
// driver; the driver then decodes the whole spec strictly.
func specKind(path string, data []byte) (string, error) {
	var head struct {
		Experiment string `yaml:"experiment"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	if head.Experiment == "" {
		return "", fmt.Errorf("%s: missing field \"experiment\" (one of %s)", path, driverNames())
	}
	return head.Experiment, nil
}
