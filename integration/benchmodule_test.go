package integration

import (
	"path/filepath"
	"testing"
)

// TestBenchModulesBuild builds the benchmark modules, which have go.mod
// files of their own that `go test ./...` does not reach: a change to the
// plugin's dependencies must not leave bench/run.sh unable to build.
func TestBenchModulesBuild(t *testing.T) {
	t.Parallel()
	out := t.TempDir() + string(filepath.Separator) // a directory: nothing lands in the tree
	for _, dir := range []string{"bench", "bench/peers/fosite"} {
		if err := goCmdEnv(filepath.Join(repoRoot, dir), []string{"GOFLAGS=-mod=readonly", "GOWORK=off"}, "build", "-o", out, "./..."); err != nil {
			t.Errorf("building the %s module: %v", dir, err)
		}
	}
}
