package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad: any bytes are read as a result file or refused with an error
// naming the file; never a panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"schema":2,"experiment":"matmul","cases":[{"group":"g","variant":"v","samples":[1,null,2],"reps":[0,0,1],"summary":{"n":0}}]}`))
	f.Add([]byte(`{"schema":1,"notes":["INCORRECT: x"],"provenance":{"extra":{"profile":"quick","n":"3"}}}`))
	f.Add([]byte(`{"schema":2,"cases":[{"samples":["NaN","+Inf"],"reps":[1]}]}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "f.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Load(p)
		if err != nil {
			if !strings.Contains(err.Error(), "f.json") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		for _, c := range r.Cases {
			c.RepMedians()
		}
		if _, err := r.Encode(); err != nil {
			t.Errorf("a loaded file does not encode: %v", err)
		}
	})
}
