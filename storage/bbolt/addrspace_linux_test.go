//go:build linux

package bbolt

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/caddy-oauth/caddy-oauth/storage/storagetest"
)

// A process whose address space is limited (ulimit -v) to less than the
// first mapping of the file still opens its token database, and the
// mapping grows with the file. The limit is set in a child process, the
// test binary run again, so that it binds nothing else.
func TestOpensUnderAnAddressSpaceLimit(t *testing.T) {
	if dir := os.Getenv("BBOLT_TEST_LIMITED_DIR"); dir != "" {
		openUnderLimit(t, dir)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpensUnderAnAddressSpaceLimit$", "-test.v")
	cmd.Env = append(os.Environ(), "BBOLT_TEST_LIMITED_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("the child under the limit: %v\n%s", err, out)
	}
}

// openUnderLimit limits the process's address space to what it uses now
// plus 512 MiB, checks that a 1 GiB mapping is refused, then opens a
// store, fills it past its first mapping and reads it back.
func openUnderLimit(t *testing.T, dir string) {
	used := addressSpace(t)
	limit := syscall.Rlimit{Cur: used + 512<<20, Max: used + 512<<20}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &limit); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}
	if b, err := syscall.Mmap(-1, 0, initialMmapSize, syscall.PROT_READ, syscall.MAP_PRIVATE|syscall.MAP_ANON); !errors.Is(err, syscall.ENOMEM) {
		if err == nil {
			_ = syscall.Munmap(b)
		}
		t.Fatalf("a mapping of %d bytes under the limit: %v, want ENOMEM", initialMmapSize, err)
	}
	s := provision(t, filepath.Join(dir, "oauth.db"))
	hashes := storagetest.Fill(t, s, 20_000)
	if err := s.db.checkpointNow(); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{hashes[0], hashes[len(hashes)-1]} {
		if _, err := s.GetToken(context.Background(), h); err != nil {
			t.Fatalf("GetToken: %v", err)
		}
	}
}

// addressSpace is the process's virtual memory size, from /proc.
func addressSpace(t *testing.T) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmSize:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmSize %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmSize in /proc/self/status")
	return 0
}
