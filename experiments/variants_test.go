package experiments

import (
	"slices"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
)

func TestVariants(t *testing.T) {
	d, _ := cpu.Open()
	e := &Env{Device: d}
	v, err := e.Variants("x", []device.Mode{device.ZeroCopy, device.Managed}, []device.Mode{device.Copy, device.ZeroCopy})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"native-zerocopy", "wasm-copy", "wasm-zerocopy"}; !slices.Equal(v.Names(), want) {
		t.Fatalf("names %v, want %v", v.Names(), want)
	}
	if v.String() != "native-zerocopy,wasm-copy,wasm-zerocopy" {
		t.Fatalf("string %q", v.String())
	}
	if len(v.Notes) != 1 || !strings.Contains(v.Notes[0], "mode managed skipped") {
		t.Fatalf("notes %v", v.Notes)
	}
	e.Modes = []device.Mode{device.Copy}
	v, _ = e.Variants("x", []device.Mode{device.ZeroCopy}, []device.Mode{device.Copy, device.ZeroCopy})
	if !slices.Equal(v.Names(), []string{"wasm-copy"}) {
		t.Fatalf("-mode copy kept %v", v.Names())
	}
	if _, err := e.Variants("x", []device.Mode{device.ZeroCopy}, nil); err == nil || !strings.Contains(err.Error(), "x: no memory mode left to run on cpu") {
		t.Fatalf("nothing left: %v", err)
	}
}

// noLLM is a device without Llama kernels.
type noLLM struct{ device.Device }

func (noLLM) Info() device.Info { return device.Info{Backend: "toy"} }

func TestLoadModel(t *testing.T) {
	if _, err := (&Env{Device: noLLM{}}).LoadModel("llama", models.Tiny(), 1, models.BF16); err == nil || !strings.Contains(err.Error(), "llama: the toy backend has no Llama kernels") {
		t.Fatalf("device without kernels: %v", err)
	}
	d, _ := cpu.Open()
	m, err := (&Env{Device: d}).LoadModel("llama", models.Tiny(), 1, models.BF16)
	if err != nil {
		t.Fatal(err)
	}
	if m.Host.Source != "synthetic:1" || m.Host.Config.HiddenSize != models.Tiny().HiddenSize {
		t.Fatalf("weights %s, config %+v", m.Host.Source, m.Host.Config)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Env{Device: d, ModelDir: t.TempDir()}).LoadModel("kv", models.Tiny(), 1, models.BF16); err == nil {
		t.Fatal("an empty model folder loaded")
	}
}
