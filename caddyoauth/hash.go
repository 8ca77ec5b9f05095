package caddyoauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
)

// secretHash is a password or client-secret hash made by `caddy
// hash-password`: bcrypt or argon2id.
type secretHash struct {
	hashed   []byte
	comparer caddyauth.Comparer

	// verified is the SHA-256 of the last plaintext that matched, so that
	// only the first request with the right secret pays for the hash.
	mu       sync.Mutex
	verified [32]byte
}

func parseSecretHash(s string) (*secretHash, error) {
	h := &secretHash{hashed: []byte(s)}
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		h.comparer = caddyauth.BcryptHash{}
	case strings.HasPrefix(s, "$argon2id$"):
		h.comparer = caddyauth.Argon2idHash{}
	case s == "":
		return nil, errors.New("missing hash")
	default:
		return nil, errors.New("not a bcrypt or argon2id hash (make one with `caddy hash-password`)")
	}
	// A malformed hash must fail now, not on the first sign-in.
	if err := checkHashFormat(h); err != nil {
		return nil, fmt.Errorf("malformed hash: %v", err)
	}
	return h, nil
}

// checkHashFormat parses the hash without the cost of verifying against it.
func checkHashFormat(h *secretHash) error {
	if _, ok := h.comparer.(caddyauth.BcryptHash); ok {
		_, err := bcrypt.Cost(h.hashed)
		return err
	}
	_, _, err := caddyauth.DecodeHash(h.hashed)
	return err
}

// compare reports whether plaintext matches; a malformed hash never does.
// A full verification (any but a repeat of the last match) is timed into
// floor, if not nil.
func (h *secretHash) compare(plaintext string, floor *failureFloor) bool {
	sum := sha256.Sum256([]byte(plaintext))
	h.mu.Lock()
	verified := h.verified
	h.mu.Unlock()
	if subtle.ConstantTimeCompare(sum[:], verified[:]) == 1 {
		return true
	}
	start := time.Now()
	ok, err := h.comparer.Compare(h.hashed, []byte(plaintext))
	if floor != nil {
		floor.observe(time.Since(start))
	}
	if err != nil || !ok {
		return false
	}
	h.mu.Lock()
	h.verified = sum
	h.mu.Unlock()
	return true
}

// fakeHash is compared against for unknown users and clients when none is
// configured to take the cost of: Caddy's fake bcrypt hash (cost 14).
// It never matches, so it never caches.
var fakeHash = &secretHash{
	hashed:   caddyauth.BcryptHash{}.FakeHash(),
	comparer: caddyauth.BcryptHash{},
}

// fakeHashLike returns a hash with the algorithm and cost of h (the same
// bcrypt cost, or the same argon2id parameters) that matches no password:
// h's digest, reversed but for its last character (which carries the
// encoding's padding bits). Comparing an unknown user's or client's password
// against it takes as long as a wrong password of h's, where Caddy's fixed
// fake hash (bcrypt cost 14) would take much longer or shorter than the
// configured hashes and tell which names exist. nil h gives fakeHash.
func fakeHashLike(h *secretHash) *secretHash {
	if h == nil {
		return fakeHash
	}
	i := bytes.LastIndexByte(h.hashed, '$')
	fake := bytes.Clone(h.hashed)
	slices.Reverse(fake[i+1 : len(fake)-1])
	f := &secretHash{hashed: fake, comparer: h.comparer}
	if bytes.Equal(fake, h.hashed) || checkHashFormat(f) != nil {
		return fakeHash
	}
	return f
}

// class names what the time of a verification against h depends on: the
// algorithm and its parameters (bcrypt's cost; argon2id's version, memory,
// iterations, parallelism and key length), not the salt or the digest.
func (h *secretHash) class() string {
	if _, ok := h.comparer.(caddyauth.BcryptHash); ok {
		cost, _ := bcrypt.Cost(h.hashed)
		return fmt.Sprintf("bcrypt cost %d", cost)
	}
	// $argon2id$v=…$m=…,t=…,p=…$<salt>$<key>
	s := string(h.hashed)
	key := strings.LastIndexByte(s, '$')
	salt := strings.LastIndexByte(s[:key], '$')
	return fmt.Sprintf("%s key %d", s[:salt], len(s)-key-1)
}

// failureFloor makes every failed credential check of an App (unknown
// client, wrong client secret, plain or hashed, unknown user, wrong
// password) take as long as the slowest failure its configuration can
// produce, so that the time of a failure tells neither which names exist
// nor how costly their hashes are. Comparing unknown names against a dummy
// hash (fakeHashLike) costs the CPU of one configured hash, but hashes
// differ in cost, and a plain secret costs nothing.
//
// The floor is the longest full bcrypt or argon2id verification seen so far
// (secretHash.compare feeds it: right or wrong secrets, configured or dummy
// hashes). A failed check sleeps until it has lasted that long; a
// successful one returns at once, so plain secrets and repeats of a hashed
// secret's last match stay as fast as ever. The floor never falls: a
// verification slowed by load raises it for good, which costs failures time
// but tells nothing.
//
// At provision, a background goroutine (seed) times one verification of a
// fake hash of each class of hash configured, so that the floor covers the
// costliest hash before anyone has used it; failures wait for it to end.
type failureFloor struct {
	longest atomic.Int64 // nanoseconds

	// seeded is closed when seeding ends; nil if it never started.
	seeded chan struct{}
}

// observe records a full hash verification that took d.
func (f *failureFloor) observe(d time.Duration) {
	for {
		old := f.longest.Load()
		if int64(d) <= old || f.longest.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// floor returns the time a failed check takes at least, once seeding ended.
func (f *failureFloor) floor() time.Duration {
	return time.Duration(f.longest.Load())
}

// pad sleeps until a failed check that began at start has lasted as long
// as the floor. Call it on failure only.
func (f *failureFloor) pad(start time.Time) {
	f.wait()
	if d := f.floor() - time.Since(start); d > 0 {
		time.Sleep(d)
	}
}

// wait blocks until seeding ends.
func (f *failureFloor) wait() {
	if f.seeded != nil {
		<-f.seeded
	}
}

// seed starts timing, in the background, one verification against a fake
// hash like (fakeHashLike) the first hash of each class among hashes; nil
// ones are skipped. The goroutine stops between verifications once ctx (the
// App's provisioning context, cancelled when its config is unloaded) is
// done, and touches nothing but the floor and its own fake hashes. Call it
// once, before the App serves.
func (f *failureFloor) seed(ctx context.Context, hashes []*secretHash) {
	seen := make(map[string]bool)
	var fakes []*secretHash
	for _, h := range hashes {
		if h == nil || seen[h.class()] {
			continue
		}
		seen[h.class()] = true
		fakes = append(fakes, fakeHashLike(h))
	}
	if len(fakes) == 0 {
		return
	}
	done := make(chan struct{})
	f.seeded = done
	go func() {
		defer close(done)
		for _, h := range fakes {
			if ctx.Err() != nil {
				return
			}
			h.compare("", f)
		}
	}()
}

// seedFailureFloor seeds the App's failure floor with the hashes of the
// provisioned users and clients, and of the dummies compared against for
// unknown names (which are of a configured class unless fakeHashLike fell
// back to Caddy's fake hash).
func (a *App) seedFailureFloor(ctx context.Context) {
	var hashes []*secretHash
	for _, u := range a.Users {
		hashes = append(hashes, u.hash)
	}
	for _, c := range a.Clients {
		hashes = append(hashes, c.hash)
	}
	a.failures.seed(ctx, append(hashes, a.fakeUserHash, a.fakeClientHash))
}
