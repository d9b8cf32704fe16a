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
