package rss

import (
	"runtime"
	"testing"
)

func TestParseStatm(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{"1000 250 30 1 0 400 0\n", 250 * 4096, false},
		{"1000", 0, true},
		{"1000 x 3", 0, true},
		{"", 0, true},
	} {
		got, err := parseStatm(tc.in, 4096)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseStatm(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestCurrentSeesTouchedMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("RSS is read from /proc on linux only")
	}
	before, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 64<<20)
	for i := range b {
		if i%4096 == 0 {
			b[i] = 1
		}
	}
	after, _ := Current()
	runtime.KeepAlive(b)
	if after < before+48<<20 {
		t.Fatalf("touching 64 MiB raised RSS by only %d bytes", after-before)
	}
}

func TestParseHWM(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{"Name:\tx\nVmPeak:\t  900 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n", 1234 * 1024, false},
		{"VmHWM:\t1234\n", 0, true},
		{"VmHWM:\tlots kB\n", 0, true},
		{"VmRSS:\t1000 kB\n", 0, true},
	} {
		got, err := parseHWM(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseHWM(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if runtime.GOOS == "linux" {
		// VmHWM is updated lazily, so it may trail the current RSS by a
		// few pages: only its presence is checked.
		if peak, err := Peak(); err != nil || peak == 0 {
			t.Errorf("Peak() = %d, %v", peak, err)
		}
	}
}
