package experiments

import (
	"fmt"
	"time"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// Model is a Llama model's weights on the host and loaded once onto the
// device, shared by every session an LLM experiment runs.
type Model struct {
	Host   *models.Weights
	Device device.Weights
}

// LoadModel loads the weights an LLM experiment runs on (LoadWeights: the
// -model folder or synthetic ones of cfg from seed) onto e's device.
func (e *Env) LoadModel(experiment string, cfg models.Config, seed uint64, dt models.DType) (*Model, error) {
	ld, ok := e.Device.(device.LLMDevice)
	if !ok {
		return nil, fmt.Errorf("%s: the %s backend has no Llama kernels", experiment, e.Device.Info().Backend)
	}
	what := e.ModelDir
	if what == "" {
		what = "synthetic " + string(dt)
	}
	e.Logf("%s: loading weights (%s)", experiment, what)
	mw, err := LoadWeights(e.ModelDir, cfg, seed, dt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", experiment, err)
	}
	start := time.Now()
	w, err := ld.LoadWeights(llm.WeightTensors(mw))
	if err != nil {
		mw.Close()
		return nil, fmt.Errorf("%s: load weights onto %s: %w", experiment, e.Device.Info().Backend, err)
	}
	e.Logf("%s: weights on the device in %.2fs (%.2f GB, %d B device memory)", experiment, time.Since(start).Seconds(), float64(mw.Bytes())/1e9, w.DeviceBytes())
	return &Model{Host: mw, Device: w}, nil
}

// Close releases the device's copy, then the host's.
func (m *Model) Close() error {
	err := m.Device.Close()
	if herr := m.Host.Close(); err == nil {
		err = herr
	}
	return err
}
