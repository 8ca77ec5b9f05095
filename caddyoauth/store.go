package caddyoauth

import (
	"context"
	"errors"
	"time"
)

// Storage modules live in the "oauth.storage" namespace. A storage module is
// a caddy.Module whose value implements Store; the app loads exactly one.
//
// Every backend must pass the conformance suite in storage/storagetest.

// Store persists token records. Records are keyed by a hash of the token
// they describe (see HashToken), 32 bytes in hex; a raw token never reaches
// the store. Keys of new records mostly ascend.
//
// Implementations must be safe for concurrent use, and every method that
// writes must be durable when it returns: a crash right after a successful
// call loses nothing.
type Store interface {
	// SaveTokens stores new records atomically: all of them or none. A record
	// whose hash is already present makes the whole call fail with
	// ErrExists, so SaveTokens doubles as an atomic "insert if absent" for
	// single-use identifiers such as SAML assertion IDs.
	SaveTokens(ctx context.Context, records ...*TokenRecord) error

	// GetToken returns the record stored under hash, or ErrNotFound. It
	// returns expired, used and revoked records as they are; the caller
	// decides what they mean.
	GetToken(ctx context.Context, hash string) (*TokenRecord, error)

	// ConsumeToken atomically marks the single-use record stored under hash
	// as used, at time now, and returns it as it was before. Of concurrent
	// calls for one hash, on one node or many, exactly one succeeds; the
	// others get the record and ErrAlreadyUsed. A revoked record gives the
	// record and ErrRevoked and stays unused; an unknown hash, ErrNotFound.
	// Expiry is the caller's concern.
	ConsumeToken(ctx context.Context, hash string, now time.Time) (*TokenRecord, error)

	// RevokeFamily marks every record of the family revoked and returns the
	// hashes of the records it changed (already revoked ones are left out),
	// so caches can evict them. Stores shared between nodes also notify the
	// other nodes (see RevocationWatcher). An unknown family is no error.
	RevokeFamily(ctx context.Context, familyID string) ([]string, error)
	// RevokeToken marks the record stored under hash revoked, for a record
	// that is in no family, and returns its hash if it changed it: nil if
	// it was revoked already or is unknown. Stores shared between nodes
	// notify the other nodes as RevokeFamily does.
	RevokeToken(ctx context.Context, hash string) ([]string, error)

	// Sweep deletes every record that expired before the given time and
	// returns how many it deleted.
	Sweep(ctx context.Context, before time.Time) (int, error)
}

// RevocationWatcher is implemented by stores that several Caddy nodes share.
// The app calls WatchRevocations once, from Start; it runs until ctx ends,
// reporting to l from one goroutine, one call at a time.
type RevocationWatcher interface {
	WatchRevocations(ctx context.Context, l RevocationListener) error
}

// RevocationListener receives what a RevocationWatcher hears.
type RevocationListener struct {
	// Revoked receives the token hashes revoked by any node.
	Revoked func(hashes []string)

	// Reset is called each time the watcher starts to listen, the first
	// time included: it may have missed revocations before (while it
	// connected, or reconnected), so the app drops everything it cached.
	Reset func()

	// Heard is called with a time t once every revocation that any node
	// completed before t has been passed to Revoked: typically when the
	// store answers a round trip that the watcher started at t, on the
	// connection it listens on, after everything sent to it before. While
	// connected, a watcher calls Heard at least every HeardInterval. The
	// app serves a cached token only while the last t is less than
	// RevocationDelay old, so that a connection that dies without a word
	// (a lost network, a frozen server) cannot keep revoked tokens alive.
	Heard func(t time.Time)
}

// HeardInterval is how often a RevocationWatcher confirms, through Heard,
// that it hears every revocation.
const HeardInterval = 250 * time.Millisecond

// RevocationDelay is how long a token revoked on one node may still pass
// on another (SPEC §5: within one second). A node whose watcher has
// confirmed nothing for that long validates every token against the store.
const RevocationDelay = time.Second

// Errors a Store returns. Callers compare with errors.Is; any other error is
// a storage fault, on which the server fails closed.
var (
	ErrNotFound    = errors.New("record not found")
	ErrExists      = errors.New("record already exists")
	ErrAlreadyUsed = errors.New("single-use record already used")
	ErrRevoked     = errors.New("record revoked")
)

// TokenKind says what a record describes. A token of one kind is never
// accepted as another: each kind has its own prefix and is checked on lookup.
type TokenKind string

// The kinds of records the server stores.
const (
	KindAccess  TokenKind = "access"
	KindRefresh TokenKind = "refresh"
	KindCode    TokenKind = "code"
	// KindOnce marks a used single-use identifier, such as a SAML assertion
	// ID, recorded only so that it cannot be used again before it expires.
	KindOnce TokenKind = "once"
	// KindSession marks a browser session of the authorization page: a
	// resource owner who signed in there, so that the next authorization
	// within the session does not ask for the password again. Its UserID
	// is the user; it expires after the app's session_ttl. Each session has
	// a family of its own, so that a sign-in or a sign-out ends it at once
	// with RevokeFamily, on every node.
	KindSession TokenKind = "session"
)

// TokenRecord is what the store holds for one token, code or single-use
// identifier. It holds no usable credential.
type TokenRecord struct {
	// Hash is the token's key in hex (see HashToken): the record's key.
	Hash string `json:"hash"`
	// Kind is what the token is.
	Kind TokenKind `json:"kind"`
	// FamilyID groups every record descending from one original grant: a
	// refresh rotates within the family, and revocation or reuse detection
	// revokes the whole family.
	FamilyID string `json:"family_id,omitempty"`
	// ClientID is the client the token was issued to.
	ClientID string `json:"client_id,omitempty"`
	// UserID is the resource owner; empty for client_credentials tokens.
	UserID string `json:"user_id,omitempty"`
	// Scopes are the scopes the token carries.
	Scopes []string `json:"scopes,omitempty"`
	// IssuedAt is when the token was issued.
	IssuedAt time.Time `json:"issued_at"`
	// ExpiresAt is when the token stops being valid; the record may be swept
	// after it.
	ExpiresAt time.Time `json:"expires_at"`
	// UsedAt is when a single-use record was consumed; zero while unused.
	UsedAt time.Time `json:"used_at,omitzero"`
	// Revoked is set by RevokeFamily.
	Revoked bool `json:"revoked,omitempty"`
	// SealedSibling is the other token of an access/refresh pair, encrypted
	// under a key derived from this record's own token (see SealSibling), so
	// only a holder of this token can recover it.
	SealedSibling []byte `json:"sealed_sibling,omitempty"`
	// RedirectURI is the redirect URI an authorization code is bound to.
	RedirectURI string `json:"redirect_uri,omitempty"`
	// CodeChallenge is the PKCE S256 challenge an authorization code is bound to.
	CodeChallenge string `json:"code_challenge,omitempty"`
}

// Active reports whether the record is an unrevoked, unused, unexpired
// record of the given kind at time now.
func (r *TokenRecord) Active(kind TokenKind, now time.Time) bool {
	return r.Kind == kind && !r.Revoked && r.UsedAt.IsZero() && now.Before(r.ExpiresAt)
}
