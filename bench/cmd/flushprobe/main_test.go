//go:build linux

package main

import (
	"errors"
	"syscall"
	"testing"
)

func TestEveryWayAppendsAndReadsBack(t *testing.T) {
	for _, way := range []string{"raw", "ordinary", "direct", "dsync", "uring"} {
		t.Run(way, func(t *testing.T) {
			res, err := probe(t.TempDir(), way, 4)
			switch {
			case errors.Is(err, syscall.EINVAL) && (way == "direct" || way == "dsync"):
				t.Skipf("the file system of the test's temporary directory has no O_DIRECT: %v", err)
			case (errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EPERM)) && way == "uring":
				t.Skipf("io_uring is not available here: %v", err)
			case err != nil:
				t.Fatal(err)
			}
			if res.wall <= 0 {
				t.Errorf("wall time per append %v, want > 0", res.wall)
			}
		})
	}
}

func TestUnknownWay(t *testing.T) {
	if _, err := probe(t.TempDir(), "fsync", 1); err == nil {
		t.Fatal("an unknown way was accepted")
	}
}
