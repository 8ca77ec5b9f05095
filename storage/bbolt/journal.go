package bbolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// The journal makes writes durable cheaply. A bbolt commit rewrites every
// page it touches and syncs twice; a batch of writes appended to the
// journal is one sequential write and one fdatasync. The bbolt file
// catches up at checkpoints, which write many batches in one transaction
// (see database.checkpoint).
//
// The journal is two segment files beside the database, <path>-wal0 and
// <path>-wal1, used in turn: while one takes new batches, the other holds
// the batches of the checkpoint in progress. A segment is reused, not
// recreated, so its blocks are already allocated and a sync flushes data
// only. The format:
//
//	header  16 bytes: magic "coaj", version (1), 3 zero bytes,
//	        epoch (uint64, big-endian)
//	entries each: length (uint32), CRC-32C of epoch and payload (uint32),
//	        payload; one entry per committed batch
//
// Reusing a segment gives it a new epoch, higher than any before, so that
// the entries of its previous use fail their checksum; reading stops at
// the first entry that fails, which is also how a batch torn by a crash
// (never acknowledged) is left out. At open, the segments are replayed in
// epoch order, oldest first, into the bbolt file; replaying a batch that a
// checkpoint already wrote is harmless, as every operation in a payload
// sets a final value.
const (
	journalMagic     = "coaj"
	journalVersion   = 1
	journalHeaderLen = 16
	entryHeaderLen   = 8

	// segmentGrowth is how much a segment grows when an entry does not
	// fit. Growth writes zeros and syncs the file size once, so that
	// appends never change it.
	segmentGrowth = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segment is one journal file.
type segment struct {
	f       *os.File
	flusher *flusher
	epoch   uint64 // 0: the file holds no valid header
	end     int64  // where the next entry goes
	size    int64  // bytes allocated
}

// openSegment opens or creates the segment at path and reads its header.
// It flushes through fl, which the segments of one journal share.
func openSegment(path string, fl *flusher) (*segment, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening journal segment: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("journal segment %s: %w", path, err)
	}
	s := &segment{f: f, flusher: fl, size: fi.Size(), end: journalHeaderLen}
	var h [journalHeaderLen]byte
	_, err = f.ReadAt(h[:], 0)
	switch {
	case err == io.EOF || string(h[:4]) != journalMagic:
		// New, or never reset: it holds no entries.
	case err != nil:
		_ = f.Close()
		return nil, fmt.Errorf("reading journal segment %s: %w", path, err)
	case h[4] != journalVersion:
		// Entries this version cannot read must not be dropped.
		_ = f.Close()
		return nil, fmt.Errorf("journal segment %s has format version %d; this build reads version %d", path, h[4], journalVersion)
	default:
		s.epoch = binary.BigEndian.Uint64(h[8:])
	}
	return s, nil
}

// replay calls apply with the payload of every valid entry, in order.
func (s *segment) replay(apply func(payload []byte) error) error {
	if s.epoch == 0 {
		return nil
	}
	data := make([]byte, s.size)
	if _, err := s.f.ReadAt(data, 0); err != nil && err != io.EOF {
		return fmt.Errorf("reading journal segment: %w", err)
	}
	off := int64(journalHeaderLen)
	for off+entryHeaderLen <= int64(len(data)) {
		n := int64(binary.BigEndian.Uint32(data[off:]))
		sum := binary.BigEndian.Uint32(data[off+4:])
		start := off + entryHeaderLen
		if n == 0 || n > int64(len(data))-start {
			break
		}
		payload := data[start : start+n]
		if entryChecksum(s.epoch, payload) != sum {
			break
		}
		if err := apply(payload); err != nil {
			return err
		}
		off = start + n
	}
	return nil
}

// reset starts the segment afresh under epoch, durably: its earlier
// entries are no longer read.
func (s *segment) reset(epoch uint64) error {
	var h [journalHeaderLen + entryHeaderLen]byte
	copy(h[:], journalMagic)
	h[4] = journalVersion
	binary.BigEndian.PutUint64(h[8:], epoch)
	if err := s.grow(int64(len(h))); err != nil {
		return err
	}
	if _, err := s.f.WriteAt(h[:], 0); err != nil {
		return fmt.Errorf("resetting journal segment: %w", err)
	}
	if err := s.flusher.flush(s.f); err != nil {
		return fmt.Errorf("resetting journal segment: %w", err)
	}
	s.epoch, s.end = epoch, journalHeaderLen
	return nil
}

// append writes entry durably. Its first entryHeaderLen bytes are for the
// entry header, which append fills in.
func (s *segment) append(entry []byte) error {
	payload := entry[entryHeaderLen:]
	binary.BigEndian.PutUint32(entry, uint32(len(payload)))
	binary.BigEndian.PutUint32(entry[4:], entryChecksum(s.epoch, payload))
	if err := s.grow(s.end + int64(len(entry))); err != nil {
		return err
	}
	if _, err := s.f.WriteAt(entry, s.end); err != nil {
		return fmt.Errorf("appending to the journal: %w", err)
	}
	if err := s.flusher.flush(s.f); err != nil {
		return fmt.Errorf("syncing the journal: %w", err)
	}
	s.end += int64(len(entry))
	return nil
}

// used is how many bytes of entries the segment holds.
func (s *segment) used() int64 { return s.end - journalHeaderLen }

// grow makes the file at least n bytes long, in steps of segmentGrowth.
func (s *segment) grow(n int64) error {
	if n <= s.size {
		return nil
	}
	size := (n + segmentGrowth - 1) / segmentGrowth * segmentGrowth
	for off := s.size; off < size; off += int64(len(zeroBlock)) {
		if _, err := s.f.WriteAt(zeroBlock[:min(int64(len(zeroBlock)), size-off)], off); err != nil {
			return fmt.Errorf("growing journal segment: %w", err)
		}
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("growing journal segment: %w", err)
	}
	s.size = size
	return nil
}

// zeroBlock is what grow writes, block by block.
var zeroBlock [64 << 10]byte

func (s *segment) close() error { return s.f.Close() }

func entryChecksum(epoch uint64, payload []byte) uint32 {
	var e [8]byte
	binary.BigEndian.PutUint64(e[:], epoch)
	return crc32.Update(crc32.Checksum(e[:], castagnoli), castagnoli, payload)
}

// Journal operations, as they appear in a payload:
//
//	'r', key (32 bytes), uvarint length, encoded record  -- set a record
//	'f', key (32 bytes), uvarint length, family ID       -- index a record in its family
const (
	opRecord = 'r'
	opFamily = 'f'
)

// journalOp is one operation of a batch.
type journalOp struct {
	kind   byte
	key    [hashLen]byte
	value  []byte // opRecord: the encoded record
	family string // opFamily: the family ID
}

func appendOp(b []byte, op *journalOp) []byte {
	b = append(b, op.kind)
	b = append(b, op.key[:]...)
	if op.kind == opFamily {
		b = binary.AppendUvarint(b, uint64(len(op.family)))
		return append(b, op.family...)
	}
	b = binary.AppendUvarint(b, uint64(len(op.value)))
	return append(b, op.value...)
}

var errCorruptJournal = errors.New("corrupt journal entry")

// decodeOps calls fn with each operation of a payload. op.value points
// into payload.
func decodeOps(payload []byte, fn func(op *journalOp) error) error {
	var op journalOp
	for len(payload) > 0 {
		if len(payload) < 1+hashLen || (payload[0] != opRecord && payload[0] != opFamily) {
			return errCorruptJournal
		}
		op.kind = payload[0]
		copy(op.key[:], payload[1:1+hashLen])
		payload = payload[1+hashLen:]
		n, k := binary.Uvarint(payload)
		if k <= 0 || n > uint64(len(payload)-k) {
			return errCorruptJournal
		}
		op.value, op.family = payload[k:k+int(n)], ""
		if op.kind == opFamily {
			op.value, op.family = nil, string(payload[k:k+int(n)])
		}
		payload = payload[k+int(n):]
		if err := fn(&op); err != nil {
			return err
		}
	}
	return nil
}
