package redis

import "github.com/redis/go-redis/v9"

// The Lua scripts that make each write one atomic step on the server
// (EVALSHA; go-redis loads a script the server does not have). A script
// that fails halfway keeps what it wrote, so each one checks everything
// before it writes. The keys of families and records that a script finds
// are built in the script from the prefix (ARGV[1]): the store needs a
// single Redis server, not a cluster. The layout is in encoding.go.

// saveScript stores new records, all or none.
//
//	KEYS:  the expiry index, then the key of each record
//	ARGV:  the prefix, then for each record: its hash, family ID, index
//	       member, deadline (Unix ms) and number of fields, then the
//	       fields and values
//
// It returns 0, having written nothing, if a record key exists; else 1.
// The caller rejects duplicates within one call.
var saveScript = redis.NewScript(`
for i = 2, #KEYS do
	if redis.call('EXISTS', KEYS[i]) == 1 then
		return 0
	end
end
local a = 2
for i = 2, #KEYS do
	local hash, family, member, deadline = ARGV[a], ARGV[a+1], ARGV[a+2], ARGV[a+3]
	local nfields = tonumber(ARGV[a+4])
	a = a + 5
	redis.call('HSET', KEYS[i], unpack(ARGV, a, a + 2*nfields - 1))
	a = a + 2*nfields
	redis.call('PEXPIREAT', KEYS[i], deadline)
	redis.call('ZADD', KEYS[1], 0, member)
	if family ~= '' then
		local fkey = ARGV[1] .. 'f:' .. family
		redis.call('SADD', fkey, hash)
		local ttl = redis.call('PTTL', fkey)
		if ttl == -1 or ttl < redis.call('PTTL', KEYS[i]) then
			redis.call('PEXPIREAT', fkey, deadline)
		end
	end
end
return 1
`)

// consumeScript marks a record used unless it is used or revoked.
//
//	KEYS:  the record's key
//	ARGV:  the time of use, Unix ns
//
// It returns the record's fields and values as they were before, or nil
// if there is no record. The caller tells from them what happened.
var consumeScript = redis.NewScript(`
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then
	return false
end
if redis.call('HEXISTS', KEYS[1], 'revoked') == 0 and redis.call('HEXISTS', KEYS[1], 'used') == 0 then
	redis.call('HSET', KEYS[1], 'used', ARGV[1])
end
return fields
`)

// revokeScript marks every record of a family revoked and publishes the
// hashes of the records it changed, in messages of at most ARGV[3] hashes
// separated by spaces: the publication is part of the atomic step, so a
// revocation that happened was announced.
//
//	KEYS:  the family's set
//	ARGV:  the prefix, the channel, the most hashes in one message
//
// It returns the hashes it changed. Members whose record is gone leave
// the set.
var revokeScript = redis.NewScript(`
local changed = {}
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do
	local key = ARGV[1] .. 't:' .. hash
	if redis.call('EXISTS', key) == 0 then
		redis.call('SREM', KEYS[1], hash)
	elseif redis.call('HSETNX', key, 'revoked', '1') == 1 then
		changed[#changed + 1] = hash
	end
end
local per = tonumber(ARGV[3])
for i = 1, #changed, per do
	redis.call('PUBLISH', ARGV[2], table.concat(changed, ' ', i, math.min(i + per - 1, #changed)))
end
return changed
`)

// revokeTokenScript revokes one record and publishes its hash.
//
//	KEYS:  the record's key
//	ARGV:  the record's hash, the revocation channel
//
// It returns 1 if it revoked the record; 0 if there is none or it was
// revoked already.
var revokeTokenScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HSETNX', KEYS[1], 'revoked', '1') == 0 then
	return 0
end
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
`)

// sweepScript deletes up to ARGV[3] records whose index member sorts
// before ARGV[2], their family memberships and their index members.
//
//	KEYS:  the expiry index
//	ARGV:  the prefix, "(" and the expiry key of the sweep time, the most
//	       records to delete
//
// A member is 16 hex digits of expiry (see expiryKey), the record's hash
// of hashLen (64) digits, then the family ID. It returns how many records
// it deleted and how many index members it took: fewer than ARGV[3] when
// it took the last.
var sweepScript = redis.NewScript(`
local members = redis.call('ZRANGEBYLEX', KEYS[1], '-', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local deleted = 0
for _, m in ipairs(members) do
	local hash = string.sub(m, 17, 80)
	local family = string.sub(m, 81)
	deleted = deleted + redis.call('DEL', ARGV[1] .. 't:' .. hash)
	if family ~= '' then
		redis.call('SREM', ARGV[1] .. 'f:' .. family, hash)
	end
end
if #members > 0 then
	redis.call('ZREM', KEYS[1], unpack(members))
end
return {deleted, #members}
`)
