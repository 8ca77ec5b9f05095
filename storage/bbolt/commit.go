package bbolt

import (
	"bytes"
	"fmt"
	"runtime"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// maxBatch bounds the number of writes one batch commits.
const maxBatch = 1000

// Checkpoints: the journal segment in use is handed to a checkpoint once it
// holds rotateAfter bytes (about 25k records), or when its oldest write is
// checkpointEvery old. A checkpoint writes them in one bbolt transaction:
// far fewer page writes per record than a commit per batch. Variables for
// the tests.
var (
	rotateAfter     int64 = 4 << 20
	checkpointEvery       = 10 * time.Second
)

// The database commits in groups. One goroutine, the committer, takes
// whatever writes are waiting, runs them one after the other against the
// current state, appends what they wrote to the journal in one entry and
// one fdatasync, and only then makes it visible to readers and answers the
// callers. Writes that arrive meanwhile wait for the next batch: a lone
// write commits at once, and under load the batches grow with the load.
//
// A write is a function of a writeTx, run once. It returns an error only
// for a storage fault, which fails that write alone and discards what it
// wrote; outcomes such as ErrExists are reported through captured
// variables, with nothing written.

type commitReq struct {
	fn  func(*writeTx) error // nil: a checkpoint request
	err chan error

	// checkpoint is the memtable a checkpoint request handed to a
	// checkpoint, or nil if there was nothing to write.
	checkpoint *memtable
}

// startCommitter starts the committer, appending to the segment current,
// whose epoch is epoch.
func (d *database) startCommitter(current int, epoch uint64) {
	d.reqs = make(chan *commitReq)
	d.quit = make(chan struct{})
	d.done = make(chan struct{})
	d.current, d.epoch = current, epoch
	d.pending = newMemtable()
	d.entry = make([]byte, entryHeaderLen, 64<<10)
	go d.run()
}

// update runs fn in a batch shared with concurrent writes and returns once
// what fn wrote is durable.
func (d *database) update(fn func(*writeTx) error) error {
	_, err := d.send(&commitReq{fn: fn})
	return err
}

// checkpointNow hands everything written so far to a checkpoint and waits
// until it is in the bbolt file.
func (d *database) checkpointNow() error {
	m, err := d.send(&commitReq{})
	if err != nil || m == nil {
		return err
	}
	<-m.flushed
	return m.flushErr
}

func (d *database) send(req *commitReq) (*memtable, error) {
	req.err = make(chan error, 1)
	select {
	case d.reqs <- req:
	case <-d.quit:
		return nil, bolterrors.ErrDatabaseNotOpen
	}
	err := <-req.err
	return req.checkpoint, err
}

// stop ends the committer after the batch it is committing, waits for the
// checkpoint in progress and writes the rest to the bbolt file, so that a
// closed database is complete without its journal.
func (d *database) stop() error {
	close(d.quit)
	<-d.done
	err := d.broken
	if m := d.flushing; m != nil {
		<-m.flushed
		if err == nil {
			err = m.flushErr
		}
	}
	if err == nil && !d.active.empty() {
		err = d.checkpoint(d.active)
	}
	for _, s := range d.segments {
		if cerr := s.close(); err == nil {
			err = cerr
		}
	}
	return err
}

func (d *database) run() {
	defer close(d.done)
	tick := time.NewTicker(checkpointEvery / 4)
	defer tick.Stop()
	batch := make([]*commitReq, 0, maxBatch)
	for {
		select {
		case req := <-d.reqs:
			batch = append(batch[:0], req)
		case now := <-tick.C:
			if !d.oldest.IsZero() && now.Sub(d.oldest) >= checkpointEvery {
				d.rotate(false)
			}
			continue
		case <-d.quit:
			return
		}
		// Before committing, yield twice to the goroutines about to
		// write: each batch costs an fdatasync, so a bigger batch is
		// cheaper per write.
		yields := 0
	gather:
		for len(batch) < maxBatch {
			select {
			case req := <-d.reqs:
				batch = append(batch, req)
			default:
				if yields < 2 {
					yields++
					runtime.Gosched()
					continue
				}
				break gather
			}
		}
		d.commit(batch)
		clear(batch)
		if d.segments[d.current].used() >= rotateAfter {
			d.rotate(false)
		}
	}
}

// commit runs a batch and answers each of its requests.
func (d *database) commit(batch []*commitReq) {
	errs := make([]error, len(batch))
	if err := d.runBatch(batch, errs); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	for i, req := range batch {
		req.err <- errs[i]
	}
}

// runBatch runs the writes of a batch, recording the fault of each write
// that failed in errs, and makes what the others wrote durable and
// visible. Its error fails every write of the batch.
func (d *database) runBatch(batch []*commitReq, errs []error) error {
	if d.broken != nil {
		return d.broken
	}
	d.mu.RLock()
	tx := &writeTx{db: d.db, memtables: [3]*memtable{d.pending, d.active, d.frozen}, fileMax: d.fileMax}
	d.mu.RUnlock()
	defer tx.close()
	d.pending.reset()
	d.entry = d.entry[:entryHeaderLen]
	for i, req := range batch {
		if req.fn == nil {
			continue // a checkpoint request: after the batch
		}
		tx.ops = tx.ops[:0]
		if errs[i] = safelyCall(req.fn, tx); errs[i] != nil {
			continue // nothing it wrote is kept
		}
		for j := range tx.ops {
			op := &tx.ops[j]
			if op.kind == opRecord {
				d.pending.put(&op.key, op.value)
			} else {
				d.pending.addToFamily(op.family, &op.key)
			}
			d.entry = appendOp(d.entry, op)
		}
	}
	tx.close()
	if len(d.entry) > entryHeaderLen {
		if err := d.segments[d.current].append(d.entry); err != nil {
			d.broken = fmt.Errorf("token journal: %w", err)
			return d.broken
		}
		d.mu.Lock()
		d.active.absorb(d.pending)
		d.mu.Unlock()
		if d.oldest.IsZero() {
			d.oldest = time.Now()
		}
	}
	for i, req := range batch {
		if req.fn == nil {
			req.checkpoint, errs[i] = d.rotate(true)
		}
	}
	return nil
}

// rotate hands the active memtable to a checkpoint, and its journal
// segment with it, and continues on the other segment. It returns the
// memtable handed over, or nil if there was nothing to hand over. Unless
// wait is set, it does nothing while the previous checkpoint runs.
func (d *database) rotate(wait bool) (*memtable, error) {
	if d.broken != nil {
		return nil, d.broken
	}
	if prev := d.flushing; prev != nil {
		select {
		case <-prev.flushed:
		default:
			if !wait {
				return nil, nil
			}
			<-prev.flushed
		}
		d.flushing = nil
		if prev.flushErr != nil {
			d.broken = fmt.Errorf("token database checkpoint: %w", prev.flushErr)
			return nil, d.broken
		}
	}
	if d.active.empty() {
		return nil, nil
	}
	next := 1 - d.current
	if err := d.segments[next].reset(d.epoch + 1); err != nil {
		d.broken = fmt.Errorf("token journal: %w", err)
		return nil, d.broken
	}
	d.current, d.epoch, d.oldest = next, d.epoch+1, time.Time{}
	m := d.active
	d.mu.Lock()
	d.frozen, d.active = m, newMemtableLike(m)
	d.mu.Unlock()
	d.flushing = m
	go func() {
		m.flushErr = d.checkpoint(m)
		if m.flushErr == nil {
			d.mu.Lock()
			d.frozen = nil
			d.mu.Unlock()
		}
		close(m.flushed)
	}()
	return m, nil
}

// writeTx is what a write sees: the records as the writes before it in
// its batch left them, and the operations it has written so far.
type writeTx struct {
	db        *bolt.DB
	memtables [3]*memtable // newest first: the batch's, the active, the frozen
	fileMax   [hashLen]byte
	read      *bolt.Tx     // opened on the first read that reaches the file
	tokens    *bolt.Bucket // the file's records, in read
	ops       []journalOp
}

// get returns the current encoding of the record under key, or nil. The
// value must not be modified.
func (t *writeTx) get(key *[hashLen]byte) ([]byte, error) {
	for _, m := range t.memtables {
		if v := m.get(key); v != nil {
			return v, nil
		}
	}
	if bytes.Compare(key[:], t.fileMax[:]) > 0 {
		return nil, nil // newer than every record of the file
	}
	tx, err := t.file()
	if err != nil {
		return nil, err
	}
	if t.tokens == nil {
		t.tokens = tx.Bucket(bucketTokens)
	}
	return t.tokens.Get(key[:]), nil
}

// file returns the read transaction on the bbolt file.
func (t *writeTx) file() (*bolt.Tx, error) {
	if t.read == nil {
		tx, err := t.db.Begin(false)
		if err != nil {
			return nil, err
		}
		t.read = tx
	}
	return t.read, nil
}

// put sets the record under key to value.
func (t *writeTx) put(key *[hashLen]byte, value []byte) {
	t.ops = append(t.ops, journalOp{kind: opRecord, key: *key, value: value})
}

// addToFamily indexes the record under key in family.
func (t *writeTx) addToFamily(family string, key *[hashLen]byte) {
	t.ops = append(t.ops, journalOp{kind: opFamily, key: *key, family: family})
}

// family returns the keys of the records in family, each once.
func (t *writeTx) family(family string) ([][hashLen]byte, error) {
	var keys [][hashLen]byte
	seen := make(map[[hashLen]byte]bool)
	add := func(key [hashLen]byte) {
		if !seen[key] {
			seen[key] = true
			keys = append(keys, key)
		}
	}
	for _, m := range t.memtables {
		if m != nil {
			for _, key := range m.families[family] {
				add(key)
			}
		}
	}
	tx, err := t.file()
	if err != nil {
		return nil, err
	}
	for key := range familyMembers(tx, family) {
		add(key)
	}
	return keys, nil
}

// close ends the read transaction, if one was opened.
func (t *writeTx) close() {
	if t.read != nil {
		_ = t.read.Rollback()
		t.read, t.tokens = nil, nil
	}
}

func safelyCall(fn func(*writeTx) error, tx *writeTx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(tx)
}
