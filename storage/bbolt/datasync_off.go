//go:build caddyoauth_nodatasync

package bbolt

import "os"

// datasync does nothing in a build with the tag caddyoauth_nodatasync: the
// journal is written but never flushed, so an acknowledged token can be
// lost in a crash. The benchmarks build such a Caddy only as a reference,
// to measure what the flush on the request path costs; never deploy it.
func datasync(*os.File, bool) error { return nil }

// journalFlushed reports whether datasync reaches the disk.
const journalFlushed = false
