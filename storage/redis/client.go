package redis

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// clients holds the Redis clients in use, keyed by URL (placeholders
// replaced). Caddy provisions a new config before it cleans up the old one,
// and `caddy validate` provisions too: stores on one URL share a client and
// its connection pool.
var clients = caddy.NewUsagePool()

// client is a Redis client in the clients pool.
type client struct {
	*redis.Client
}

// Destruct implements caddy.Destructor: the pool calls it when the last
// store using the client is cleaned up.
func (c *client) Destruct() error {
	return c.Close()
}

// acquire returns the client for rawURL, creating it if no store uses it,
// and whether it was created.
func acquire(rawURL string) (*client, bool, error) {
	val, loaded, err := clients.LoadOrNew(rawURL, func() (caddy.Destructor, error) {
		return newClient(rawURL)
	})
	if err != nil {
		return nil, false, err
	}
	return val.(*client), !loaded, nil
}

func newClient(rawURL string) (*client, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		// url.Parse's errors quote the whole URL, password included.
		if uerr, ok := errors.AsType[*url.Error](err); ok {
			err = uerr.Err
		}
		return nil, fmt.Errorf("parsing URL %s: %v", redact(rawURL), err)
	}
	// A script whose reply was lost may have run: retrying it could turn
	// a successful ConsumeToken into ErrAlreadyUsed, so no command is
	// retried. Contexts bound every call.
	opts.MaxRetries = -1
	opts.ContextTimeoutEnabled = true
	// Managed Redis maintenance hand-offs are not needed here, and probing
	// for them logs through go-redis, outside Caddy's logs.
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opts.ConnMaxIdleTime = maxIdle
	return &client{redis.NewClient(opts)}, nil
}

// maxIdle is how long a pooled connection may sit idle and still be used:
// one idle for longer is closed and replaced, as a connection that went
// silent while idle (a lost network, a frozen server) would otherwise fail
// the next command only at its timeout.
const maxIdle = time.Second

// redact returns rawURL with its password replaced, for errors and logs;
// a URL that does not parse is not shown at all.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}
