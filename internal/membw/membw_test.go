package membw

import "testing"

func TestReadMeasuresEveryPass(t *testing.T) {
	rates, err := Read(16<<20, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(rates) != 3 {
		t.Fatalf("%d rates for 3 passes", len(rates))
	}
	// Any real machine streams faster than 100 MB/s and slower than 10 TB/s.
	for _, bw := range rates {
		if bw < 1e8 || bw > 1e13 {
			t.Fatalf("implausible bandwidth %g B/s", bw)
		}
	}
	for _, c := range []struct{ size, threads, passes int }{{1024, 1, 1}, {16 << 20, 0, 1}, {16 << 20, 1, 0}} {
		if _, err := Read(c.size, c.threads, c.passes); err == nil {
			t.Fatalf("Read(%d, %d, %d) was accepted", c.size, c.threads, c.passes)
		}
	}
}
