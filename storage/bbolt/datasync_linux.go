//go:build !caddyoauth_nodatasync

package bbolt

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data, and its size if that changed, to the disk:
// fdatasync, which skips the modification time a full fsync also writes.
//
// With holdP set, the calling goroutine keeps its P (its slot to run Go
// code) while the disk flushes: the system call is made raw, without
// telling the scheduler. Made the ordinary way, a flush that outlasts a
// few tens of microseconds has its P handed to another thread, and when
// it returns, the goroutine queues on the global run queue for a P, behind
// the runnable goroutines of every P, while the writes of its batch wait
// for it. Holding the P is only sound for a flush known to be quick, and
// with other Ps to run the other goroutines: it is one P less for them,
// and a stop-the-world waits for it. The journal decides (see flusher).
func datasync(f *os.File, holdP bool) error {
	for {
		var err error
		if holdP {
			if _, _, errno := unix.RawSyscall(unix.SYS_FDATASYNC, f.Fd(), 0, 0); errno != 0 {
				err = errno
			}
		} else {
			err = unix.Fdatasync(int(f.Fd()))
		}
		if err != unix.EINTR {
			return err
		}
	}
}

// journalFlushed reports whether datasync reaches the disk.
const journalFlushed = true
