//go:build !unix

package regulartest

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs on this system") }
