//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A minimal io_uring (see io_uring_setup(2)): one submission of a write and
// a linked fdatasync at a time, whose completion an eventfd signals, read
// through Go's netpoller.

// ringParams is struct io_uring_params.
type ringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	_                                                                      [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, _ uint32
		_                                                           uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, _ uint32
		_                                                           uint64
	}
}

// submission is struct io_uring_sqe.
type submission struct {
	opcode, flags uint8
	ioprio        uint16
	fd            int32
	off, addr     uint64
	len, opFlags  uint32
	userData      uint64
	_             [24]byte
}

// completion is struct io_uring_cqe.
type completion struct {
	userData uint64
	res      int32
	flags    uint32
}

const (
	opFsync         = 3
	opWrite         = 23
	fsyncDatasync   = 1
	sqeLink         = 1 << 2
	sqeSkipSuccess  = 1 << 6 // no completion for the write unless it fails
	registerEventfd = 4
	offSQEs         = 0x10000000
	featSingleMmap  = 1
	syncUserData    = 2
)

type ring struct {
	fd     int
	p      ringParams
	rings  []byte // the submission and completion rings, one mapping
	sqes   []byte
	signal *os.File // the eventfd, non-blocking: reads park in the netpoller
}

func newRing() (*ring, error) {
	r := &ring{}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&r.p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r.fd = int(fd)
	if r.p.features&featSingleMmap == 0 {
		r.close()
		return nil, errors.New("io_uring: the kernel is too old (no single mmap)")
	}
	size := max(r.p.sqOff.array+4*r.p.sqEntries, r.p.cqOff.cqes+uint32(unsafe.Sizeof(completion{}))*r.p.cqEntries)
	var err error
	if r.rings, err = unix.Mmap(r.fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, fmt.Errorf("io_uring rings: %w", err)
	}
	if r.sqes, err = unix.Mmap(r.fd, offSQEs, int(r.p.sqEntries)*int(unsafe.Sizeof(submission{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, fmt.Errorf("io_uring submissions: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		r.close()
		return nil, err
	}
	r.signal = os.NewFile(uintptr(efd), "io_uring eventfd")
	e := int32(efd)
	if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, fd, registerEventfd, uintptr(unsafe.Pointer(&e)), 1, 0, 0); errno != 0 {
		r.close()
		return nil, fmt.Errorf("io_uring eventfd: %w", errno)
	}
	return r, nil
}

func (r *ring) close() {
	if r.signal != nil {
		r.signal.Close()
	}
	for _, m := range [][]byte{r.sqes, r.rings} {
		if m != nil {
			_ = unix.Munmap(m)
		}
	}
	_ = unix.Close(r.fd)
}

func (r *ring) word(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&r.rings[off])) }

func (r *ring) push(s submission) {
	tail := atomic.LoadUint32(r.word(r.p.sqOff.tail))
	i := tail & *r.word(r.p.sqOff.ringMask)
	*(*submission)(unsafe.Pointer(&r.sqes[uintptr(i)*unsafe.Sizeof(s)])) = s
	*r.word(r.p.sqOff.array + 4*i) = i
	atomic.StoreUint32(r.word(r.p.sqOff.tail), tail+1)
}

// writeAndSync writes b at off in f and fdatasyncs f, and returns once
// both are done.
func (r *ring) writeAndSync(f *os.File, b []byte, off int64) error {
	fd := int32(f.Fd())
	r.push(submission{opcode: opWrite, flags: sqeLink | sqeSkipSuccess, fd: fd, off: uint64(off),
		addr: uint64(uintptr(unsafe.Pointer(&b[0]))), len: uint32(len(b))})
	r.push(submission{opcode: opFsync, fd: fd, opFlags: fsyncDatasync, userData: syncUserData})
	for {
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 2, 0, 0, 0, 0)
		if errno == 0 {
			break
		}
		if errno != unix.EINTR {
			return fmt.Errorf("io_uring_enter: %w", errno)
		}
	}
	var failed error
	for synced := false; !synced; {
		var count [8]byte
		if _, err := r.signal.Read(count[:]); err != nil {
			return err
		}
		head := atomic.LoadUint32(r.word(r.p.cqOff.head))
		tail := atomic.LoadUint32(r.word(r.p.cqOff.tail))
		for ; head != tail; head++ {
			i := head & *r.word(r.p.cqOff.ringMask)
			c := *(*completion)(unsafe.Pointer(&r.rings[uintptr(r.p.cqOff.cqes)+uintptr(i)*unsafe.Sizeof(completion{})]))
			switch {
			case c.res < 0 && failed == nil:
				failed = unix.Errno(-c.res)
			case c.userData != syncUserData && failed == nil:
				failed = fmt.Errorf("short write: %d of %d bytes", c.res, len(b))
			}
			synced = synced || c.userData == syncUserData
		}
		atomic.StoreUint32(r.word(r.p.cqOff.head), head)
	}
	runtime.KeepAlive(b)
	return failed
}
