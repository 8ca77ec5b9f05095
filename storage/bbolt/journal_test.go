package bbolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/storage/storagetest"
)

// crash stops d the way a crash of the process would: no checkpoint, the
// bbolt file and the journal left as they are. A checkpoint in progress
// is let finish: its transaction commits whole or not at all either way.
func (d *database) crash(t testing.TB) {
	t.Helper()
	close(d.quit)
	<-d.done
	if d.flushing != nil {
		<-d.flushing.flushed
	}
	for _, s := range d.segments {
		if err := s.close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.db.Close(); err != nil {
		t.Fatal(err)
	}
}

// openStore opens a store on path outside the pool, so that a test can
// crash it.
func openStore(t *testing.T, path string) *Store {
	t.Helper()
	db, err := openDatabase(path)
	if err != nil {
		t.Fatal(err)
	}
	return &Store{path: path, db: db}
}

// smallSegments makes the journal rotate every few batches during the test.
func smallSegments(t *testing.T) {
	old := rotateAfter
	rotateAfter = 2 << 10
	t.Cleanup(func() { rotateAfter = old })
}

// TestConformanceWithCheckpoints runs the conformance suite with a
// checkpoint every few batches, so that records move from the journal to
// the file while the suite reads and writes them.
func TestConformanceWithCheckpoints(t *testing.T) {
	smallSegments(t)
	storagetest.Run(t, func(t *testing.T) caddyoauth.Store {
		return provision(t, filepath.Join(t.TempDir(), "oauth.db"))
	})
}

// TestCrashLosesNothing writes, consumes and revokes across several
// checkpoints, crashes, and checks that every acknowledged write survived,
// through two crashes in a row: replaying the journal must never bring
// back an older state.
func TestCrashLosesNothing(t *testing.T) {
	smallSegments(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "oauth.db")
	want := make(map[string]*caddyoauth.TokenRecord)
	s := openStore(t, path)

	const n = 200
	for i := range n {
		r := storagetest.Record(fmt.Sprint("crash-", i), fmt.Sprint("fam-", i%20), storagetest.Base)
		r.SealedSibling = []byte("sealed")
		if err := s.SaveTokens(ctx, r); err != nil {
			t.Fatal(err)
		}
		want[r.Hash] = r
	}
	used := storagetest.Base.Add(-time.Hour)
	for i := 0; i < n; i += 3 {
		h := storagetest.Hash(fmt.Sprint("crash-", i))
		if _, err := s.ConsumeToken(ctx, h, used); err != nil {
			t.Fatal(err)
		}
		want[h].UsedAt = used
	}
	revoked, err := s.RevokeFamily(ctx, "fam-7")
	if err != nil || len(revoked) != n/20 {
		t.Fatalf("RevokeFamily: %d revoked, %v", len(revoked), err)
	}
	for _, h := range revoked {
		want[h].Revoked = true
	}
	s.db.crash(t)
	if s.db.epoch < 4 {
		t.Fatalf("the journal rotated %d times; the test needs several", s.db.epoch)
	}

	check := func(s *Store) {
		t.Helper()
		for h, w := range want {
			got, err := s.GetToken(ctx, h)
			if err != nil {
				t.Fatalf("%s: %v", h[:8], err)
			}
			if d := storagetest.Equal(got, w); d != "" {
				t.Fatalf("after the crash: %s", d)
			}
		}
	}
	s = openStore(t, path)
	check(s)

	// A consume after the first recovery must survive the second crash.
	h := storagetest.Hash("crash-1")
	if _, err := s.ConsumeToken(ctx, h, used); err != nil {
		t.Fatal(err)
	}
	want[h].UsedAt = used
	s.db.crash(t)
	s = openStore(t, path)
	check(s)
	s.db.crash(t)
	s = openStore(t, path)
	check(s)
	if err := s.db.Destruct(); err != nil {
		t.Fatal(err)
	}
}

// TestRecoveryNeverReplaysOldState crashes twice in a row with a record's
// older state in one journal segment and its newer state in the other.
// The first recovery replays both in order; if it did not then retire
// both segments, the second would replay the older state last.
func TestRecoveryNeverReplaysOldState(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "oauth.db")
	s := openStore(t, path)
	x := storagetest.Record("x", "f", storagetest.Base)
	for _, step := range []func() error{
		func() error { return s.SaveTokens(ctx, storagetest.Record("w", "f", storagetest.Base)) },
		s.db.checkpointNow, // on to segment 0
		func() error { return s.SaveTokens(ctx, x) },
		s.db.checkpointNow, // on to segment 1
		func() error { _, err := s.ConsumeToken(ctx, x.Hash, storagetest.Base); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		s.db.crash(t)
		s = openStore(t, path)
		got, err := s.GetToken(ctx, x.Hash)
		if err != nil || got.UsedAt.IsZero() {
			t.Fatalf("after recovery, the consumed record is %+v, %v", got, err)
		}
	}
	if err := s.db.Destruct(); err != nil {
		t.Fatal(err)
	}
}

// TestTornEntryIgnored damages the journal the way a crash during an
// append does: the damaged entry and what follows it were never
// acknowledged, so recovery keeps everything before it and nothing after.
// Replay never skips a damaged entry to read on: an entry is acknowledged
// only after every entry before it, so one that follows a gap never was.
func TestTornEntryIgnored(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		damage                      func(t *testing.T, f *os.File, first, last, end int64)
		firstSurvives, lastSurvives bool
	}{
		{"garbage after the last entry", func(t *testing.T, f *os.File, first, last, end int64) {
			writeAt(t, f, []byte("\x00\x00\x00\x10garbage-garbage!"), end)
		}, true, true},
		{"last entry cut short", func(t *testing.T, f *os.File, first, last, end int64) {
			writeAt(t, f, make([]byte, end-last-5), last+5)
		}, true, false},
		{"last entry's payload flipped", func(t *testing.T, f *os.File, first, last, end int64) {
			writeAt(t, f, []byte{0xff}, last+entryHeaderLen)
		}, true, false},
		{"last entry's length too long", func(t *testing.T, f *os.File, first, last, end int64) {
			writeAt(t, f, []byte{0x7f, 0xff, 0xff, 0xff}, last)
		}, true, false},
		{"an earlier entry never written", func(t *testing.T, f *os.File, first, last, end int64) {
			writeAt(t, f, make([]byte, last-first), first)
		}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "oauth.db")
			s := openStore(t, path)
			seg := s.db.segments[s.db.current]
			first := seg.end
			kept := storagetest.Record("kept", "f1", storagetest.Base)
			if err := s.SaveTokens(ctx, kept); err != nil {
				t.Fatal(err)
			}
			last := seg.end
			torn := storagetest.Record("torn", "f2", storagetest.Base)
			if err := s.SaveTokens(ctx, torn); err != nil {
				t.Fatal(err)
			}
			end := seg.end
			s.db.crash(t)

			f, err := os.OpenFile(path+"-wal1", os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			tc.damage(t, f, first, last, end)
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}

			s = openStore(t, path)
			defer s.db.Destruct()
			for _, want := range []struct {
				rec      *caddyoauth.TokenRecord
				survives bool
			}{{kept, tc.firstSurvives}, {torn, tc.lastSurvives}} {
				_, err = s.GetToken(ctx, want.rec.Hash)
				if want.survives && err != nil {
					t.Fatalf("%s, before the damage: %v", want.rec.Hash[:4], err)
				}
				if !want.survives && !errors.Is(err, caddyoauth.ErrNotFound) {
					t.Fatalf("%s, at or after the damage, was replayed: %v", want.rec.Hash[:4], err)
				}
			}
		})
	}
}

func writeAt(t *testing.T, f *os.File, b []byte, off int64) {
	t.Helper()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestReadersSeeOnlyDurableWrites checks that a write becomes visible no
// earlier than it is acknowledged, and at once when it is, while
// checkpoints move records to the file under concurrent readers.
func TestReadersSeeOnlyDurableWrites(t *testing.T) {
	smallSegments(t)
	ctx := context.Background()
	s := provision(t, filepath.Join(t.TempDir(), "oauth.db"))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 100 {
				r := storagetest.Record(fmt.Sprint("vis-", w, "-", i), fmt.Sprint("f", w), storagetest.Base)
				if err := s.SaveTokens(ctx, r); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.GetToken(ctx, r.Hash); err != nil {
					t.Errorf("a saved record is not visible: %v", err)
					return
				}
				if _, err := s.ConsumeToken(ctx, r.Hash, storagetest.Base); err != nil {
					t.Error(err)
					return
				}
				if got, err := s.GetToken(ctx, r.Hash); err != nil || got.UsedAt.IsZero() {
					t.Errorf("a consume is not visible: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestJournalFaultFailsClosed makes the journal unwritable: writes fail,
// and keep failing, instead of being acknowledged without being durable.
func TestJournalFaultFailsClosed(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "oauth.db"))
	t.Cleanup(func() { _ = s.db.Destruct() })
	saved := storagetest.Record("before", "f", storagetest.Base)
	if err := s.SaveTokens(ctx, saved); err != nil {
		t.Fatal(err)
	}
	// Closing the segment's file behind the committer's back makes its
	// next append fail, as a failing disk would.
	if err := s.db.segments[s.db.current].f.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		r := storagetest.Record(fmt.Sprint("after-", i), "f", storagetest.Base)
		if err := s.SaveTokens(ctx, r); err == nil {
			t.Fatal("a write was acknowledged by a journal that cannot write")
		}
		if _, err := s.GetToken(ctx, r.Hash); !errors.Is(err, caddyoauth.ErrNotFound) {
			t.Fatalf("a failed write is visible: %v", err)
		}
	}
	if _, err := s.GetToken(ctx, saved.Hash); err != nil {
		t.Fatalf("reads stop with a broken journal: %v", err)
	}
}

// TestExistsAfterCheckpoint saves records that a checkpoint then moves to
// the file, and saves them again: SaveTokens still finds them there, on
// the running store and after reopening it.
func TestExistsAfterCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "oauth.db")
	s := openStore(t, path)
	var recs []*caddyoauth.TokenRecord
	for i := range 20 {
		r := storagetest.Record(fmt.Sprint("exists-", i), "f", storagetest.Base)
		if err := s.SaveTokens(ctx, r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := s.db.checkpointNow(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		for _, r := range recs {
			if err := s.SaveTokens(ctx, r); !errors.Is(err, caddyoauth.ErrExists) {
				t.Fatalf("saving %s again after a checkpoint: %v", r.Hash[:8], err)
			}
		}
		if err := s.db.Destruct(); err != nil {
			t.Fatal(err)
		}
		s = openStore(t, path)
	}
	if err := s.db.Destruct(); err != nil {
		t.Fatal(err)
	}
}

// TestUnknownJournalVersion refuses to open a journal written in a format
// this build does not know, rather than dropping what it holds.
func TestUnknownJournalVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oauth.db")
	s := openStore(t, path)
	if err := s.SaveTokens(context.Background(), storagetest.Record("v", "f", storagetest.Base)); err != nil {
		t.Fatal(err)
	}
	s.db.crash(t)
	f, err := os.OpenFile(path+"-wal1", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	writeAt(t, f, []byte{journalVersion + 1}, 4)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err := openDatabase(path); err == nil {
		_ = db.Destruct()
		t.Fatal("opened a journal of an unknown format version")
	} else if !strings.Contains(err.Error(), "format version") {
		t.Fatalf("error does not say why: %v", err)
	}
}

// TestIdleCheckpoint checks that a write reaches the file within
// checkpointEvery even when no more writes come to fill the journal.
func TestIdleCheckpoint(t *testing.T) {
	old := checkpointEvery
	checkpointEvery = 40 * time.Millisecond
	t.Cleanup(func() { checkpointEvery = old })
	s := provision(t, filepath.Join(t.TempDir(), "oauth.db"))
	r := storagetest.Record("idle", "f", storagetest.Base)
	if err := s.SaveTokens(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	var key [hashLen]byte
	hashKey(&key, r.Hash)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var inFile bool
		err := s.db.db.View(func(tx *bolt.Tx) error {
			inFile = tx.Bucket(bucketTokens).Get(key[:]) != nil
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if inFile {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("an idle store never checkpointed its journal")
		}
	}
}

// TestJournalFlushedByDefault guards the build constraints of datasync: only
// a build with the tag caddyoauth_nodatasync may skip the flush.
func TestJournalFlushedByDefault(t *testing.T) {
	if !journalFlushed {
		t.Fatal("this build does not flush the journal; tags must include caddyoauth_nodatasync for that")
	}
}

// TestFileMaxBoundsTheFile: fileMax, which spares a new record's insert
// the search of the file, is never below a key of the file, however the
// records got there: by checkpoints while running, or before an open whose
// journal no longer holds them.
func TestFileMaxBoundsTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "oauth.db")
	s := openStore(t, path)
	save := func(prefix string, n int) {
		for i := range n {
			if err := s.SaveTokens(ctx, storagetest.Record(fmt.Sprint(prefix, i), "f", storagetest.Base)); err != nil {
				t.Fatal(err)
			}
		}
		// Each checkpoint rotates the journal: after two, the first
		// batches are in the file only.
		if err := s.db.checkpointNow(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		err := s.db.db.View(func(tx *bolt.Tx) error {
			last, _ := tx.Bucket(bucketTokens).Cursor().Last()
			s.db.mu.RLock()
			defer s.db.mu.RUnlock()
			if bytes.Compare(last, s.db.fileMax[:]) > 0 {
				t.Errorf("%s: the file holds %x, above fileMax %x", when, last, s.db.fileMax)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	save("first-", 20)
	check("after a checkpoint")
	save("second-", 1)
	save("third-", 1)
	if err := s.db.Destruct(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	check("after reopening")
	if err := s.db.Destruct(); err != nil {
		t.Fatal(err)
	}
}
