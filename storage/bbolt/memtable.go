package bbolt

// memtable holds, in memory, the records written since the last checkpoint:
// their newest encodings and the family memberships they added. Lookups
// read the memtables before the bbolt file, so a memtable always shadows
// the file.
//
// Values live in one append-only arena indexed by a map without pointers,
// so that tens of thousands of records cost the garbage collector next to
// nothing. A value, once written, is never overwritten: a slice returned by
// get stays valid and unchanged after later puts.
//
// A memtable is not safe for concurrent use; the database guards the shared
// ones with its lock.
type memtable struct {
	arena    []byte
	index    map[[hashLen]byte]span
	families map[string][][hashLen]byte

	// flushed is closed when the checkpoint that writes this memtable to
	// the file has ended; flushErr is its outcome.
	flushed  chan struct{}
	flushErr error
}

// span locates a value in the arena.
type span struct{ off, len uint32 }

func newMemtable() *memtable {
	return &memtable{
		index:    make(map[[hashLen]byte]span),
		families: make(map[string][][hashLen]byte),
		flushed:  make(chan struct{}),
	}
}

// newMemtableLike returns an empty memtable with room for what prev holds:
// the next one fills about as much, without growing its arena and maps
// step by step.
func newMemtableLike(prev *memtable) *memtable {
	return &memtable{
		arena:    make([]byte, 0, len(prev.arena)),
		index:    make(map[[hashLen]byte]span, len(prev.index)),
		families: make(map[string][][hashLen]byte, len(prev.families)),
		flushed:  make(chan struct{}),
	}
}

// get returns the newest value stored under key, or nil.
func (m *memtable) get(key *[hashLen]byte) []byte {
	if m == nil {
		return nil
	}
	s, ok := m.index[*key]
	if !ok {
		return nil
	}
	end := s.off + s.len
	return m.arena[s.off:end:end]
}

// put stores value under key, shadowing any earlier value.
func (m *memtable) put(key *[hashLen]byte, value []byte) {
	m.index[*key] = span{off: uint32(len(m.arena)), len: uint32(len(value))}
	m.arena = append(m.arena, value...)
}

// addToFamily records that the record under key belongs to family.
func (m *memtable) addToFamily(family string, key *[hashLen]byte) {
	m.families[family] = append(m.families[family], *key)
}

// absorb copies every value and family membership of o into m.
func (m *memtable) absorb(o *memtable) {
	for key, s := range o.index {
		m.put(&key, o.arena[s.off:s.off+s.len])
	}
	for family, keys := range o.families {
		m.families[family] = append(m.families[family], keys...)
	}
}

// empty reports whether m holds nothing.
func (m *memtable) empty() bool {
	return len(m.index) == 0 && len(m.families) == 0
}

// reset empties m for reuse, keeping its allocations.
func (m *memtable) reset() {
	m.arena = m.arena[:0]
	clear(m.index)
	clear(m.families)
}
