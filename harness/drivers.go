package main

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/goccy/go-yaml"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/experiments/kv"
	"github.com/wasmgpu/wasmgpu/experiments/llama"
	"github.com/wasmgpu/wasmgpu/experiments/matmul"
	"github.com/wasmgpu/wasmgpu/results"
)

// drivers are the experiment kinds the harness knows.
var drivers = map[string]experiments.Driver{
	"matmul": {
		Name: "matmul",
		Run: func(ctx context.Context, env *experiments.Env, path string) (*results.File, error) {
			s, err := matmul.Load(path)
			if err != nil {
				return nil, err
			}
			return matmul.Run(ctx, env, s)
		},
		Table:   matmul.Table,
		Figures: matmul.Figures,
	},
	"llama": {
		Name: "llama",
		Run: func(ctx context.Context, env *experiments.Env, path string) (*results.File, error) {
			s, err := llama.Load(path)
			if err != nil {
				return nil, err
			}
			return llama.Run(ctx, env, s)
		},
		Table:   llama.Table,
		Figures: llama.Figures,
	},
	"kv": {
		Name: "kv",
		Run: func(ctx context.Context, env *experiments.Env, path string) (*results.File, error) {
			s, err := kv.Load(path)
			if err != nil {
				return nil, err
			}
			return kv.Run(ctx, env, s)
		},
		Table:   kv.Table,
		Figures: kv.Figures,
	},
}

func driverNames() []string {
	var names []string
	for n := range drivers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// specKind reads only the `experiment:` field of a spec, to pick its driver;
// the driver then decodes the whole file strictly.
func specKind(path string) (string, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("read spec: %w", err)
	}
	var head struct {
		Experiment string `yaml:"experiment"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return "", nil, fmt.Errorf("%s: %v", path, err)
	}
	if head.Experiment == "" {
		return "", nil, fmt.Errorf("%s: missing field \"experiment\" (one of %v)", path, driverNames())
	}
	return head.Experiment, data, nil
}
