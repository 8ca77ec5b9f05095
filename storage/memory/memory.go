// Package memory is the in-memory token store: fast, and lost when Caddy
// exits. It suits tests and single-node setups where every token may die
// with the process.
package memory

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

func init() {
	caddy.RegisterModule(new(Store))
}

// Store keeps token records in memory; they are lost when Caddy exits or
// the config is reloaded. It has no configuration. In the Caddyfile it is
// `storage memory`.
type Store struct {
	mu       sync.RWMutex
	records  map[string]*caddyoauth.TokenRecord
	families map[string]map[string]struct{} // family ID -> hashes
}

// New returns an empty store, ready to use without provisioning.
func New() *Store {
	s := new(Store)
	s.init()
	return s
}

func (s *Store) init() {
	s.records = make(map[string]*caddyoauth.TokenRecord)
	s.families = make(map[string]map[string]struct{})
}

// CaddyModule returns the Caddy module information.
func (*Store) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.storage.memory",
		New: func() caddy.Module { return New() },
	}
}

// UnmarshalCaddyfile sets up the store from Caddyfile tokens. Syntax:
//
//	storage memory
func (s *Store) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the backend name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(d.Nesting()) {
		return d.Errf("storage memory takes no options")
	}
	return nil
}

// clone returns a deep copy of r, so that neither the caller nor the store
// can change the other's record.
func clone(r *caddyoauth.TokenRecord) *caddyoauth.TokenRecord {
	c := *r
	c.Scopes = slices.Clone(r.Scopes)
	c.SealedSibling = slices.Clone(r.SealedSibling)
	return &c
}

// SaveTokens implements caddyoauth.Store.
func (s *Store) SaveTokens(ctx context.Context, records ...*caddyoauth.TokenRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	copies := make([]*caddyoauth.TokenRecord, len(records))
	for i, r := range records {
		copies[i] = clone(r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range copies {
		if _, ok := s.records[r.Hash]; ok {
			return caddyoauth.ErrExists
		}
		for _, prev := range copies[:i] {
			if prev.Hash == r.Hash {
				return caddyoauth.ErrExists
			}
		}
	}
	for _, r := range copies {
		s.records[r.Hash] = r
		if r.FamilyID == "" {
			continue
		}
		fam := s.families[r.FamilyID]
		if fam == nil {
			fam = make(map[string]struct{}, 2)
			s.families[r.FamilyID] = fam
		}
		fam[r.Hash] = struct{}{}
	}
	return nil
}

// GetToken implements caddyoauth.Store.
func (s *Store) GetToken(ctx context.Context, hash string) (*caddyoauth.TokenRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.records[hash]
	if !ok {
		return nil, caddyoauth.ErrNotFound
	}
	return clone(r), nil
}

// ConsumeToken implements caddyoauth.Store.
func (s *Store) ConsumeToken(ctx context.Context, hash string, now time.Time) (*caddyoauth.TokenRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[hash]
	switch {
	case !ok:
		return nil, caddyoauth.ErrNotFound
	case r.Revoked:
		return clone(r), caddyoauth.ErrRevoked
	case !r.UsedAt.IsZero():
		return clone(r), caddyoauth.ErrAlreadyUsed
	}
	before := clone(r)
	r.UsedAt = now
	return before, nil
}

// RevokeFamily implements caddyoauth.Store.
func (s *Store) RevokeFamily(ctx context.Context, familyID string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if familyID == "" {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var changed []string
	for hash := range s.families[familyID] {
		if r := s.records[hash]; r != nil && !r.Revoked {
			r.Revoked = true
			changed = append(changed, hash)
		}
	}
	return changed, nil
}

// RevokeToken implements caddyoauth.Store.
func (s *Store) RevokeToken(ctx context.Context, hash string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.records[hash]; r != nil && !r.Revoked {
		r.Revoked = true
		return []string{hash}, nil
	}
	return nil, nil
}

// Sweep implements caddyoauth.Store.
func (s *Store) Sweep(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for hash, r := range s.records {
		if !r.ExpiresAt.Before(before) {
			continue
		}
		delete(s.records, hash)
		if fam := s.families[r.FamilyID]; fam != nil {
			delete(fam, hash)
			if len(fam) == 0 {
				delete(s.families, r.FamilyID)
			}
		}
		n++
	}
	return n, nil
}

// Interface guards
var (
	_ caddyoauth.Store      = (*Store)(nil)
	_ caddyfile.Unmarshaler = (*Store)(nil)
)
