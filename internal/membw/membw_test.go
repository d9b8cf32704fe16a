package membw

import "testing"

func TestReadMeasuresSomething(t *testing.T) {
	bw, err := Read(16<<20, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Any real machine streams faster than 100 MB/s and slower than 10 TB/s.
	if bw < 1e8 || bw > 1e13 {
		t.Fatalf("implausible bandwidth %g B/s", bw)
	}
	if _, err := Read(1024, 1, 1); err == nil {
		t.Fatal("a 1 KiB buffer was accepted")
	}
}
