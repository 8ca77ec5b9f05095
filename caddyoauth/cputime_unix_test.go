//go:build unix

package caddyoauth_test

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time the process has used, in user and kernel
// mode, every goroutine and the garbage collector included.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
