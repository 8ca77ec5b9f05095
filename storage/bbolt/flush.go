package bbolt

import (
	"os"
	"time"
)

// Flushes that hold their P (see datasync) must be quick. A flush that
// holds it and takes quickFlush or longer makes the journal flush the
// ordinary way for a while: slowFlushBackoff at first, twice as long after
// each flush in a row that is slow again, up to maxSlowFlushBackoff. On a
// local SSD a flush takes a few hundred microseconds. Variables for the
// tests.
var (
	quickFlush          = time.Millisecond
	slowFlushBackoff    = time.Second
	maxSlowFlushBackoff = time.Minute
)

// flushFile is datasync; a variable for the tests.
var flushFile = datasync

// flusher flushes the segments of one journal and decides how. Only a
// flush that holds its P is timed: one made the ordinary way returns only
// once its goroutine has a P again, which under load takes longer than the
// disk does. It belongs to the committer's goroutine.
type flusher struct {
	ordinaryUntil time.Time     // flush the ordinary way until then
	backoff       time.Duration // how long the last slow flush set it for
}

// flush flushes f's writes to the disk.
func (fl *flusher) flush(f *os.File) error {
	start := time.Now()
	if start.Before(fl.ordinaryUntil) {
		return flushFile(f, false)
	}
	err := flushFile(f, true)
	if took := time.Since(start); took >= quickFlush {
		fl.backoff = min(max(2*fl.backoff, slowFlushBackoff), maxSlowFlushBackoff)
		fl.ordinaryUntil = start.Add(took + fl.backoff)
	} else {
		fl.backoff = 0
	}
	return err
}
