package bbolt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/caddyserver/caddy/v2"
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

// database is one open file and its committer.
type database struct {
	db *bolt.DB
	*committer
}

// Destruct implements caddy.Destructor: the pool calls it when the last
// store using the file is cleaned up.
func (d *database) Destruct() error {
	d.committer.stop()
	return d.db.Close()
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
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: openTimeout,
		// The freelist is rebuilt at open instead of being written by
		// every commit; etcd runs this way.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("opening token database %s: %w: another process holds its lock; this is usually another running Caddy instance, in which case use 'caddy reload' to apply config changes to it", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("opening token database %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketTokens, bucketFamilies} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initializing token database %s: %w", path, err)
	}
	return &database{db: db, committer: newCommitter(db)}, nil
}
