package bbolt

import (
	"os"
	"runtime"
	"time"
)

// Flushes that hold their P (see datasync) must be quick. When the moving
// average of those flushes reaches quickFlush, the journal flushes the
// ordinary way for a while: slowFlushBackoff at first, then twice as long
// each time the flush that tries again is slow too, up to
// maxSlowFlushBackoff. quickFlush is half the time Go lets a goroutine run
// before it preempts it. Measured on a virtual SSD under load: 0.3-0.6 ms
// at the median, 1-3 ms at p90, spikes of 10 ms; idle, 0.2 ms. Variables
// for the tests.
var (
	quickFlush          = 5 * time.Millisecond
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
	typical       time.Duration // moving average of the flushes holding their P
	ordinaryUntil time.Time     // flush the ordinary way until then
	backoff       time.Duration // how long the last back-off was, or 0
}

// flush flushes f's writes to the disk. With a single P, holding it would
// stop every other goroutine for the flush: measured, a reverse-proxied
// route in the same Caddy lost a third of its throughput to moderate token
// load, so the flush then always blocks the ordinary way.
func (fl *flusher) flush(f *os.File) error {
	start := time.Now()
	if start.Before(fl.ordinaryUntil) || runtime.GOMAXPROCS(0) == 1 {
		return flushFile(f, false)
	}
	err := flushFile(f, true)
	took := time.Since(start)
	if fl.backoff > 0 {
		fl.typical = took // the first try after a back-off decides alone
	} else {
		fl.typical += (took - fl.typical) / 8
	}
	if fl.typical >= quickFlush {
		fl.backoff = min(max(2*fl.backoff, slowFlushBackoff), maxSlowFlushBackoff)
		fl.ordinaryUntil = start.Add(took + fl.backoff)
	} else {
		fl.backoff = 0
	}
	return err
}
