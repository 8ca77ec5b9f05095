package bbolt

import (
	"errors"
	"fmt"
	"runtime"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// maxBatch bounds the number of writes one transaction commits.
const maxBatch = 1000

// committer is group commit without added latency. bbolt's own db.Batch
// waits MaxBatchDelay (10ms by default) before it commits, so a lone token
// request pays that delay; with a short delay, batches stop forming. Here
// one goroutine commits whatever writes are waiting, in one transaction
// and one fsync, while the writes that arrive during that fsync wait for
// the next: a lone write commits at once and under load the batches grow
// with the load.
//
// Its semantics are db.Batch's: the functions of a batch run in one
// transaction; if one returns an error, the transaction is rolled back,
// the others are run again without it and it is run again alone, in its
// own transaction, whose error its caller gets. Every function must
// therefore reset what it reports at each run, and return an error only
// for a storage fault: outcomes such as ErrExists are reported through
// captured variables, with nothing written.
type committer struct {
	db   *bolt.DB
	reqs chan *commitReq
	quit chan struct{}
	done chan struct{}
}

type commitReq struct {
	fn  func(*bolt.Tx) error
	err chan error
}

var errTrySolo = errors.New("run the write in a transaction of its own")

func newCommitter(db *bolt.DB) *committer {
	c := &committer{
		db:   db,
		reqs: make(chan *commitReq),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	go c.run()
	return c
}

// update runs fn in a write transaction shared with concurrent writes and
// returns once that transaction is durable.
func (c *committer) update(fn func(*bolt.Tx) error) error {
	req := &commitReq{fn: fn, err: make(chan error, 1)}
	select {
	case c.reqs <- req:
	case <-c.quit:
		return bolterrors.ErrDatabaseNotOpen
	}
	err := <-req.err
	if err == errTrySolo {
		err = c.db.Update(fn)
	}
	return err
}

// stop ends the committer after the batch it is committing.
func (c *committer) stop() {
	close(c.quit)
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	batch := make([]*commitReq, 0, maxBatch)
	for {
		select {
		case req := <-c.reqs:
			batch = append(batch[:0], req)
		case <-c.quit:
			return
		}
		// Before committing, yield twice to the goroutines about to write:
		// each commit costs an fsync and rewrites the pages it touches, so
		// a bigger batch is cheaper per write. BenchmarkSaveIssuedParallel:
		// 15.6-19.5 us/op with the yields, 21.2-22.4 without.
		yields := 0
	gather:
		for len(batch) < maxBatch {
			select {
			case req := <-c.reqs:
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
		c.commit(batch)
		clear(batch)
	}
}

func (c *committer) commit(batch []*commitReq) {
	for len(batch) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, req := range batch {
				if err := safelyCall(req.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			batch[failed].err <- errTrySolo
			batch[failed] = batch[len(batch)-1]
			batch = batch[:len(batch)-1]
			continue
		}
		for _, req := range batch {
			req.err <- err
		}
		return
	}
}

func safelyCall(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(tx)
}
