package bbolt

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// TestSlowFlushGivesUpItsP: flushes hold their P while they are quick on
// average; slow ones make the next flushes block the ordinary way for a
// while, longer each time the disk is still slow, and a quick one ends
// that.
func TestSlowFlushGivesUpItsP(t *testing.T) {
	q, b, mb := quickFlush, slowFlushBackoff, maxSlowFlushBackoff
	procs := runtime.GOMAXPROCS(2)
	t.Cleanup(func() {
		quickFlush, slowFlushBackoff, maxSlowFlushBackoff = q, b, mb
		flushFile = datasync
		runtime.GOMAXPROCS(procs)
	})
	quickFlush, slowFlushBackoff, maxSlowFlushBackoff = 5*time.Millisecond, 100*time.Millisecond, 200*time.Millisecond
	const (
		spike = 20 * time.Millisecond // moves the average by 2.5 ms
		slow  = 50 * time.Millisecond // by 6.25 ms
	)
	var held []bool
	var delay time.Duration
	flushFile = func(_ *os.File, holdP bool) error {
		held = append(held, holdP)
		time.Sleep(delay)
		return nil
	}

	var fl flusher
	steps := []struct {
		wait  time.Duration // before the flush
		delay time.Duration // of the flush
		held  bool          // whether it holds its P
	}{
		{0, 0, true},
		{0, spike, true},                     // one slow flush among quick ones
		{0, 0, true},                         // changes nothing
		{0, slow, true},                      // slow on average: the ordinary way for 100 ms
		{0, 0, false},                        // within them
		{140 * time.Millisecond, slow, true}, // after them; slow again: 200 ms
		{140 * time.Millisecond, 0, false},   // within them
		{120 * time.Millisecond, 0, true},    // after them; quick: back to holding
		{0, slow, true},                      // slow: 100 ms again, not 400
		{140 * time.Millisecond, 0, true},
	}
	var want []bool
	for _, s := range steps {
		time.Sleep(s.wait)
		delay = s.delay
		if err := fl.flush(nil); err != nil {
			t.Fatal(err)
		}
		want = append(want, s.held)
	}
	if !slices.Equal(held, want) {
		t.Errorf("flushes held their P: %v, want %v", held, want)
	}

	// With a single P, no flush holds it, however quick.
	runtime.GOMAXPROCS(1)
	held, delay = nil, 0
	if err := fl.flush(nil); err != nil || !slices.Equal(held, []bool{false}) {
		t.Errorf("with GOMAXPROCS=1, a flush held its P: %v (%v)", held, err)
	}
}

// TestFlushReachesTheFile: both ways of flushing work on a real file.
func TestFlushReachesTheFile(t *testing.T) {
	if !journalFlushed {
		t.Skip("this build does not flush (TestJournalFlushedByDefault fails)")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, holdP := range []bool{true, false} {
		if _, err := f.WriteString("x"); err != nil {
			t.Fatal(err)
		}
		if err := datasync(f, holdP); err != nil {
			t.Errorf("datasync(holdP=%v): %v", holdP, err)
		}
	}
	_ = f.Close()
	if err := datasync(f, true); err == nil {
		t.Error("a raw flush of a closed file reported no error")
	}
}
