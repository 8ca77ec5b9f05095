package caddyoauth

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// User is a resource owner who may sign in.
type User struct {
	// Name is the username. Required.
	Name string `json:"name"`

	// PasswordHash is the bcrypt or argon2id hash of the password, as printed
	// by `caddy hash-password`. Required. Every failed sign-in and client
	// authentication takes as long as verifying the costliest hash
	// configured (users' and clients'), so that its time tells nothing.
	PasswordHash string `json:"password_hash"`

	// Scopes limits the scopes of tokens issued for the user. If empty, the
	// user may grant any scope the client may have.
	Scopes []string `json:"scopes,omitempty"`

	hash *secretHash
}

func (u *User) provision(repl *caddy.Replacer) error {
	if u.Name == "" {
		return errors.New("user with empty name")
	}
	u.PasswordHash = repl.ReplaceKnown(u.PasswordHash, "")
	h, err := parseSecretHash(u.PasswordHash)
	if err != nil {
		return fmt.Errorf("user %q: password_hash: %v", u.Name, err)
	}
	u.hash = h
	return nil
}

// mayHave reports whether tokens for the user may carry scope.
func (u *User) mayHave(scope string) bool {
	return len(u.Scopes) == 0 || slices.Contains(u.Scopes, scope)
}

// User returns the configured user with that name, or nil. It checks no
// password: it is for grants whose identity provider vouches for the user
// (such as a SAML assertion's NameID), so that a configured user's scopes
// still limit the token.
func (a *App) User(name string) *User { return a.users[name] }

// AuthenticateUser returns the user with the given name and password. An
// unknown name and a wrong password, whatever the cost of the user's hash,
// take the same time: that of the failure floor (see failureFloor). A right
// password is not slowed down. Repeated failures from the source of r are
// slowed down with a 429 *Error.
func (a *App) AuthenticateUser(r *http.Request, name, password string) (*User, *Error) {
	attempt := authAttempt{Source: Source(r), User: name}
	if ok, retry := a.limiter.allow(attempt); !ok {
		return nil, &Error{Code: CodeInvalidGrant, Description: "too many failed attempts, retry later",
			Status: http.StatusTooManyRequests, RetryAfter: retry}
	}
	start := time.Now()
	u, ok := a.users[name]
	if !ok && a.fakeUserHash != nil {
		a.fakeUserHash.compare(password, &a.failures)
	}
	if !ok || !u.hash.compare(password, &a.failures) {
		a.limiter.fail(attempt)
		a.failures.pad(start)
		return nil, Errorf(CodeInvalidGrant, "the username or password is wrong")
	}
	return u, nil
}

func (a *App) provisionUsers() error {
	repl := caddy.NewReplacer()
	a.users = make(map[string]*User, len(a.Users))
	for _, u := range a.Users {
		if err := u.provision(repl); err != nil {
			return err
		}
		if _, dup := a.users[u.Name]; dup {
			return fmt.Errorf("user %q: defined twice", u.Name)
		}
		a.users[u.Name] = u
	}
	// Unknown names are checked against a hash as costly as the first
	// user's, so that they cost the CPU of a wrong password; the failure
	// floor evens out the time. Without users, there is no name to hide.
	a.fakeUserHash = nil
	if len(a.Users) > 0 {
		a.fakeUserHash = fakeHashLike(a.Users[0].hash)
	}
	return nil
}
