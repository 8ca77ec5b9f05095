//go:build !linux && !caddyoauth_nodatasync

package bbolt

import "os"

// datasync flushes f to the disk.
func datasync(f *os.File) error { return f.Sync() }

// journalFlushed reports whether datasync reaches the disk.
const journalFlushed = true
