//go:build linux

// Command flushprobe measures what one durable journal append costs the
// process, made each of the ways the bbolt journal could make it: a 4 KiB
// write at the end of a preallocated file, then a flush to the disk. It
// prints, per append, the wall time, the process's CPU time (user and
// system, kernel workers included) and its voluntary context switches.
// One goroutine appends, so the figures are the cost of the flush itself,
// not of the scheduling around it under load.
//
//	flushprobe                    # every way, 2 rounds of 2000 appends, in /tmp
//	flushprobe -n 3000 -rounds 3 -dir /var/lib/caddy
//
// The ways:
//
//	raw         pwrite, then fdatasync as a raw system call (the journal's
//	            flush while it holds its P)
//	ordinary    pwrite, then fdatasync the ordinary way (the journal's flush
//	            with a single P)
//	direct      O_DIRECT pwrite, then a raw fdatasync
//	dsync       O_DIRECT|O_DSYNC pwrite: the write is the flush
//	uring       io_uring: write and a linked fdatasync in one submission,
//	            waiting for the completion in Go's netpoller, so that no
//	            thread blocks and no P is held
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const blockSize = 4096

func main() {
	n := flag.Int("n", 2000, "appends per way and round")
	rounds := flag.Int("rounds", 2, "rounds; each round runs every way once")
	dir := flag.String("dir", os.TempDir(), "directory of the probe file (on the disk to measure)")
	ways := flag.String("ways", "raw,ordinary,direct,dsync,uring", "comma-separated ways to measure")
	flag.Parse()
	if err := run(*dir, strings.Split(*ways, ","), *n, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "flushprobe:", err)
		os.Exit(1)
	}
}

func run(dir string, ways []string, n, rounds int) error {
	if n < 1 || rounds < 1 {
		return fmt.Errorf("need -n ≥ 1 and -rounds ≥ 1")
	}
	fmt.Printf("%-9s %12s %12s %14s\n", "way", "wall/append", "CPU/append", "vol. switches")
	for r := 0; r < rounds; r++ {
		for _, way := range ways {
			res, err := probe(dir, way, n)
			if err != nil {
				return fmt.Errorf("%s: %w", way, err)
			}
			fmt.Printf("%-9s %12v %12v %14.1f\n", way, res.wall, res.cpu, res.switches)
		}
	}
	return nil
}

type result struct {
	wall, cpu time.Duration
	switches  float64
}

// probe makes n appends the given way to a new preallocated file in dir,
// checks that the last one reads back, and removes the file.
func probe(dir, way string, n int) (result, error) {
	f, err := os.CreateTemp(dir, "flushprobe-*")
	if err != nil {
		return result{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := f.Truncate(int64(n) * blockSize); err != nil {
		return result{}, err
	}
	if err := f.Sync(); err != nil {
		return result{}, err
	}
	appendBlock, closeWay, err := open(f, way)
	if err != nil {
		return result{}, err
	}
	defer closeWay()
	block := alignedBlock()
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	for i := range n {
		block[0] = byte(i)
		if err := appendBlock(block, int64(i)*blockSize); err != nil {
			return result{}, err
		}
	}
	wall := time.Since(start)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, int64(n-1)*blockSize); err != nil || last[0] != byte(n-1) {
		return result{}, fmt.Errorf("the last append did not read back (%v)", err)
	}
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	return result{
		wall:     wall / time.Duration(n),
		cpu:      cpu / time.Duration(n),
		switches: float64(after.Nvcsw-before.Nvcsw) / float64(n),
	}, nil
}

// open returns the function that appends a block to f the given way.
func open(f *os.File, way string) (appendBlock func(b []byte, off int64) error, closeWay func(), err error) {
	noop := func() {}
	switch way {
	case "raw", "ordinary":
		return func(b []byte, off int64) error {
			if _, err := f.WriteAt(b, off); err != nil {
				return err
			}
			return fdatasync(f, way == "raw")
		}, noop, nil
	case "direct", "dsync":
		flags := os.O_WRONLY | syscall.O_DIRECT
		if way == "dsync" {
			flags |= syscall.O_DSYNC
		}
		d, err := os.OpenFile(f.Name(), flags, 0)
		if err != nil {
			return nil, nil, err
		}
		return func(b []byte, off int64) error {
			if _, err := d.WriteAt(b, off); err != nil || way == "dsync" {
				return err
			}
			return fdatasync(d, true)
		}, func() { d.Close() }, nil
	case "uring":
		r, err := newRing()
		if err != nil {
			return nil, nil, err
		}
		return func(b []byte, off int64) error { return r.writeAndSync(f, b, off) }, r.close, nil
	}
	return nil, nil, fmt.Errorf("unknown way %q", way)
}

func fdatasync(f *os.File, raw bool) error {
	if !raw {
		return unix.Fdatasync(int(f.Fd()))
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_FDATASYNC, f.Fd(), 0, 0); errno != 0 {
		return errno
	}
	return nil
}

// alignedBlock returns a block-sized buffer at a block-aligned address, as
// O_DIRECT needs.
func alignedBlock() []byte {
	buf := make([]byte, 2*blockSize)
	skip := (blockSize - int(uintptr(unsafe.Pointer(&buf[0])))%blockSize) % blockSize
	return buf[skip : skip+blockSize]
}
