//go:build !linux

package region

import "errors"

// populate is Linux's MADV_POPULATE_WRITE; elsewhere Populate touches pages.
func populate([]byte) error { return errors.New("no MADV_POPULATE_WRITE") }
