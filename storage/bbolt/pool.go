package bbolt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// databases holds the open database files, keyed by absolute path. Caddy
// provisions a new config before it cleans up the old one, and `caddy
// validate` provisions too: both must share the open file, since bbolt
// locks it.
var databases = caddy.NewUsagePool()

// openTimeout is how long Open waits for another process's lock on the file.
var openTimeout = 5 * time.Second

var (
	bucketTokens   = []byte("tokens")
	bucketFamilies = []byte("families")
)

// database is one open bbolt file, its journal, the memtables holding what
// the journal has that the file does not have yet, and the committer.
type database struct {
	db *bolt.DB

	mu     sync.RWMutex // guards active, frozen and fileMax
	active *memtable    // written since the last checkpoint began
	frozen *memtable    // being written to the file by a checkpoint, or nil

	// fileMax is at least the greatest key of the file's records. New
	// tokens' keys ascend with time (see caddyoauth.HashToken), so the
	// check that a new record is absent mostly need not search the file.
	fileMax [hashLen]byte

	// fileMu allows one write transaction on the file at a time:
	// checkpoints and sweeps.
	fileMu sync.Mutex

	reqs chan *commitReq
	quit chan struct{}
	done chan struct{}

	// The rest belongs to the committer's goroutine.
	segments [2]*segment
	current  int       // the segment taking new entries
	epoch    uint64    // the epoch of the current segment
	oldest   time.Time // when the active memtable got its first write
	flushing *memtable // the memtable of the checkpoint in progress, if any
	broken   error     // a journal fault: every later write fails with it
	pending  *memtable // what the batch being committed wrote
	entry    []byte    // the journal entry of the batch being committed
}

// Destruct implements caddy.Destructor: the pool calls it when the last
// store using the file is cleaned up.
func (d *database) Destruct() error {
	err := d.stop()
	if cerr := d.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// get returns the record under key: from the memtables, newest first, or
// from the file.
func (d *database) get(key *[hashLen]byte) (*caddyoauth.TokenRecord, error) {
	d.mu.RLock()
	v := d.active.get(key)
	if v == nil {
		v = d.frozen.get(key)
	}
	d.mu.RUnlock()
	if v != nil {
		return decodeRecord(key[:], v)
	}
	// A checkpoint that ended after the memtables were read has written
	// the frozen memtable to the file before dropping it, so the file
	// read now has what it held.
	var rec *caddyoauth.TokenRecord
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketTokens).Get(key[:])
		if v == nil {
			return caddyoauth.ErrNotFound
		}
		var err error
		rec, err = decodeRecord(key[:], v)
		return err
	})
	return rec, err
}

// acquire returns the database at path, opening it if no store has it open.
func acquire(path string) (*database, error) {
	val, _, err := databases.LoadOrNew(path, func() (caddy.Destructor, error) {
		return openDatabase(path)
	})
	if err != nil {
		return nil, err
	}
	return val.(*database), nil
}

func openDatabase(path string) (*database, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the folder of token database %s: %v", path, err)
	}
	opts := &bolt.Options{
		Timeout: openTimeout,
		// The freelist is rebuilt at open instead of being written by
		// every commit; etcd runs this way.
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: initialMmapSize,
	}
	db, err := bolt.Open(path, 0o600, opts)
	if errors.Is(err, syscall.ENOMEM) && opts.InitialMmapSize > 0 {
		// The process may not have that much address space (ulimit -v):
		// map the file as it grows instead.
		opts.InitialMmapSize = 0
		db, err = bolt.Open(path, 0o600, opts)
	}
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("opening token database %s: %w: another process holds its lock; this is usually another running Caddy instance, in which case use 'caddy reload' to apply config changes to it", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("opening token database %s: %w", path, err)
	}
	d := &database{db: db, active: newMemtable()}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketTokens, bucketFamilies} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		last, _ := tx.Bucket(bucketTokens).Cursor().Last()
		copy(d.fileMax[:], last)
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initializing token database %s: %w", path, err)
	}
	if err := d.recover(path); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("token database %s: %w", path, err)
	}
	return d, nil
}

// recover opens the journal next to the file at path, replays into the file
// what the journal holds, and starts the committer on an emptied journal.
func (d *database) recover(path string) error {
	var segs [2]*segment
	fl := new(flusher)
	for i := range segs {
		s, err := openSegment(fmt.Sprintf("%s-wal%d", path, i), fl)
		if err != nil {
			for _, o := range segs[:i] {
				_ = o.close()
			}
			return err
		}
		segs[i] = s
	}
	d.segments = segs
	err := d.replay()
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	// Both segments start afresh, under epochs higher than any replayed:
	// an entry replayed now must never be replayed after newer ones.
	epoch := max(segs[0].epoch, segs[1].epoch)
	for i := 0; err == nil && i < len(segs); i++ {
		epoch++
		err = segs[i].reset(epoch)
	}
	if err != nil {
		for _, s := range segs {
			_ = s.close()
		}
		return err
	}
	d.startCommitter(1, epoch)
	return nil
}

// replay writes every journal entry, oldest segment first, to the file in
// one transaction.
func (d *database) replay() error {
	segs := d.segments[:]
	if segs[0].epoch > segs[1].epoch {
		segs = []*segment{segs[1], segs[0]}
	}
	m := newMemtable()
	for _, s := range segs {
		err := s.replay(func(payload []byte) error {
			return decodeOps(payload, func(op *journalOp) error {
				if op.kind == opRecord {
					m.put(&op.key, op.value)
				} else {
					m.addToFamily(op.family, &op.key)
				}
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("replaying the journal: %w", err)
		}
	}
	if m.empty() {
		return nil
	}
	if err := d.checkpoint(m); err != nil {
		return fmt.Errorf("replaying the journal: %w", err)
	}
	return nil
}

// syncDir makes the entries of directory dir durable, such as the journal
// files just created in it.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	return nil
}

// initialMmapSize is the address space the file is mapped with at first,
// as etcd does: a file that outgrows its mapping is mapped again, which
// waits for every read in progress and copies every record the checkpoint
// holds out of the old mapping. It is address space, not memory, where
// there is plenty: not on 32-bit platforms, and not on Windows, where
// bbolt grows the file to the size of its mapping.
var initialMmapSize = func() int {
	if strconv.IntSize < 64 || runtime.GOOS == "windows" {
		return 0
	}
	return 1 << 30
}()
