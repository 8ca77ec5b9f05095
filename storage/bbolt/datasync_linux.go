//go:build !caddyoauth_nodatasync

package bbolt

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data, and its size if that changed, to the disk:
// fdatasync, which skips the modification time a full fsync also writes.
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}

// journalFlushed reports whether datasync reaches the disk.
const journalFlushed = true
