//go:build !darwin

package metal

import "github.com/wasmgpu/wasmgpu/runtime/device"

// LoadWeights fails off darwin, like every other entry point of the stub.
func (*Device) LoadWeights([]device.WeightTensor) (device.Weights, error) {
	return nil, errNotDarwin
}

var _ device.LLMDevice = (*Device)(nil)
