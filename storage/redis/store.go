package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// perMessage is the most hashes in one revocation message: 65 kB.
var perMessage = 1000

// sweepBatch is the most records one sweep script deletes, so that a sweep
// never holds the server long.
var sweepBatch = 1000

func (s *Store) recordKey(hash string) string   { return s.prefix + "t:" + hash }
func (s *Store) familyKey(family string) string { return s.prefix + "f:" + family }
func (s *Store) indexKey() string               { return s.prefix + "exp" }
func (s *Store) channel() string                { return s.prefix + "revocations" }

// SaveTokens implements caddyoauth.Store.
func (s *Store) SaveTokens(ctx context.Context, records ...*caddyoauth.TokenRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(records) == 0 {
		return nil
	}
	now := time.Now()
	keys := make([]string, 1, 1+len(records))
	keys[0] = s.indexKey()
	args := make([]any, 1, 1+len(records)*30)
	args[0] = s.prefix
	for i, r := range records {
		if !isHash(r.Hash) {
			return fmt.Errorf("redis token store: saving tokens: hash %.12q... is not a hex SHA-256", r.Hash)
		}
		for _, prev := range records[:i] {
			if prev.Hash == r.Hash {
				return caddyoauth.ErrExists
			}
		}
		fields, err := encodeRecord(r)
		if err != nil {
			return fmt.Errorf("redis token store: saving tokens: %w", err)
		}
		keys = append(keys, s.recordKey(r.Hash))
		args = append(args, r.Hash, r.FamilyID, indexMember(r), deadline(r, now), len(fields)/2)
		args = append(args, fields...)
	}
	saved, err := saveScript.Run(ctx, s.client, keys, args...).Int()
	if err != nil {
		return fmt.Errorf("redis token store: saving tokens: %w", err)
	}
	if saved == 0 {
		return caddyoauth.ErrExists
	}
	return nil
}

// GetToken implements caddyoauth.Store.
func (s *Store) GetToken(ctx context.Context, hash string) (*caddyoauth.TokenRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !isHash(hash) {
		return nil, caddyoauth.ErrNotFound
	}
	fields, err := s.client.HGetAll(ctx, s.recordKey(hash)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis token store: reading a token: %w", err)
	}
	if len(fields) == 0 {
		return nil, caddyoauth.ErrNotFound
	}
	r, err := decodeRecord(hash, fields)
	if err != nil {
		return nil, fmt.Errorf("redis token store: reading a token: %w", err)
	}
	return r, nil
}

// ConsumeToken implements caddyoauth.Store. One script checks and marks
// the record, so of concurrent calls on any nodes exactly one wins.
func (s *Store) ConsumeToken(ctx context.Context, hash string, now time.Time) (*caddyoauth.TokenRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !isHash(hash) {
		return nil, caddyoauth.ErrNotFound
	}
	if now.IsZero() {
		return nil, errors.New("redis token store: consuming a token: no time of use")
	}
	usedAt, err := unixNanos(now)
	if err != nil {
		return nil, fmt.Errorf("redis token store: consuming a token: %w", err)
	}
	reply, err := consumeScript.Run(ctx, s.client, []string{s.recordKey(hash)}, usedAt).StringSlice()
	if errors.Is(err, redis.Nil) {
		return nil, caddyoauth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redis token store: consuming a token: %w", err)
	}
	fields := make(map[string]string, len(reply)/2)
	for i := 0; i+1 < len(reply); i += 2 {
		fields[reply[i]] = reply[i+1]
	}
	r, err := decodeRecord(hash, fields)
	if err != nil {
		return nil, fmt.Errorf("redis token store: consuming a token: %w", err)
	}
	// The script marked the record used unless one of these held.
	switch {
	case r.Revoked:
		return r, caddyoauth.ErrRevoked
	case !r.UsedAt.IsZero():
		return r, caddyoauth.ErrAlreadyUsed
	}
	return r, nil
}

// RevokeFamily implements caddyoauth.Store. The script that revokes also
// publishes the changed hashes to every node's WatchRevocations.
func (s *Store) RevokeFamily(ctx context.Context, familyID string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if familyID == "" {
		return nil, nil // records without a family are in none
	}
	changed, err := revokeScript.Run(ctx, s.client, []string{s.familyKey(familyID)},
		s.prefix, s.channel(), perMessage).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redis token store: revoking a token family: %w", err)
	}
	return changed, nil
}

// RevokeToken implements caddyoauth.Store. The script that revokes also
// publishes the hash to every node's WatchRevocations.
func (s *Store) RevokeToken(ctx context.Context, hash string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !isHash(hash) {
		return nil, nil // not a hash the store could hold
	}
	changed, err := revokeTokenScript.Run(ctx, s.client, []string{s.recordKey(hash)},
		hash, s.channel()).Int()
	if err != nil {
		return nil, fmt.Errorf("redis token store: revoking a token: %w", err)
	}
	if changed == 0 {
		return nil, nil
	}
	return []string{hash}, nil
}

// Sweep implements caddyoauth.Store. It deletes in batches of sweepBatch
// records, each one script.
func (s *Store) Sweep(ctx context.Context, before time.Time) (int, error) {
	upTo := "(" + expiryKey(before)
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		reply, err := sweepScript.Run(ctx, s.client, []string{s.indexKey()},
			s.prefix, upTo, sweepBatch).Int64Slice()
		if err != nil {
			return total, fmt.Errorf("redis token store: sweeping expired tokens: %w", err)
		}
		if len(reply) != 2 {
			return total, fmt.Errorf("redis token store: sweeping expired tokens: unexpected reply %v", reply)
		}
		total += int(reply[0])
		if reply[1] < int64(sweepBatch) {
			return total, nil
		}
	}
}
