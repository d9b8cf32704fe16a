//go:build !darwin

package metal

import (
	"errors"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

func TestOpenOffDarwin(t *testing.T) {
	d, err := Open()
	if d != nil || err == nil {
		t.Fatalf("Open() = %v, %v; want nil and an error", d, err)
	}
	if !errors.Is(err, device.ErrNoDevice) {
		t.Errorf("Open error %q does not wrap device.ErrNoDevice", err)
	}
	if !strings.Contains(err.Error(), "only on darwin") {
		t.Errorf("Open error %q does not say why", err)
	}
	var stub Device
	if _, err := stub.NewMemory(device.ZeroCopy, 1<<20); !errors.Is(err, device.ErrNoDevice) {
		t.Errorf("NewMemory error %v does not wrap device.ErrNoDevice", err)
	}
}
