package bbolt

import (
	"bytes"
	"iter"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// checkpoint writes the records and family memberships of m to the file,
// in one durable transaction. It puts keys in ascending order: inserting
// out of order into the nodes of one large transaction shifts their
// entries at every insert.
func (d *database) checkpoint(m *memtable) error {
	keys := make([][hashLen]byte, 0, len(m.index))
	for key := range m.index {
		keys = append(keys, key)
	}
	slices.SortFunc(keys, func(a, b [hashLen]byte) int { return bytes.Compare(a[:], b[:]) })
	var members [][]byte
	for family, keys := range m.families {
		for i := range keys {
			members = append(members, familyKey(family, keys[i][:]))
		}
	}
	slices.SortFunc(members, bytes.Compare)
	err := d.writeFile(func(tx *bolt.Tx) error {
		tokens := tx.Bucket(bucketTokens)
		tokens.FillPercent = appendFill
		for i := range keys {
			if err := tokens.Put(keys[i][:], m.get(&keys[i])); err != nil {
				return err
			}
		}
		families := tx.Bucket(bucketFamilies)
		families.FillPercent = appendFill
		for _, k := range members {
			if err := families.Put(k, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && len(keys) > 0 {
		// Before the memtable is dropped: its keys are in the file now.
		d.raiseFileMax(&keys[len(keys)-1])
	}
	return err
}

// raiseFileMax records that the file holds a record under key.
func (d *database) raiseFileMax(key *[hashLen]byte) {
	d.mu.Lock()
	if bytes.Compare(key[:], d.fileMax[:]) > 0 {
		d.fileMax = *key
	}
	d.mu.Unlock()
}

// writeFile runs fn in a durable write transaction on the file, the only
// one running.
func (d *database) writeFile(fn func(*bolt.Tx) error) error {
	d.fileMu.Lock()
	defer d.fileMu.Unlock()
	return d.db.Update(fn)
}

// familyMembers yields the keys the file's family index holds for family.
func familyMembers(tx *bolt.Tx, family string) iter.Seq[[hashLen]byte] {
	return func(yield func([hashLen]byte) bool) {
		prefix := append([]byte(family), 0)
		c := tx.Bucket(bucketFamilies).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) != len(prefix)+hashLen {
				continue // a longer family ID that has this one as prefix
			}
			if !yield([hashLen]byte(k[len(prefix):])) {
				return
			}
		}
	}
}
