//go:build !linux && !caddyoauth_nodatasync

package bbolt

import "os"

// datasync flushes f to the disk. holdP is a Linux optimization; here the
// flush always blocks the ordinary way.
func datasync(f *os.File, holdP bool) error { return f.Sync() }

// journalFlushed reports whether datasync reaches the disk.
const journalFlushed = true
