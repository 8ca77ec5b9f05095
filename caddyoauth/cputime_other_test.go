//go:build !unix

package caddyoauth_test

import (
	"testing"
	"time"
)

// processCPU is not measured here: reportCPU reports nothing.
func processCPU(testing.TB) time.Duration { return 0 }
