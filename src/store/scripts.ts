/**
 * Lua scripts the Redis store registers with ioredis `defineCommand` (sent as EVALSHA). A
 * script runs atomically in one round trip, where a WATCH/GET/MULTI/EXEC update took three
 * and a connection of its own.
 *
 * StoreOps travel as one KEYS entry and four ARGV slots each: the op's name and up to three
 * arguments (member, value or field; a field's value; TTL). TTLs are checked before a script is
 * sent: a script that failed half-way would not roll back its first writes.
 *
 * JSON-object records (jsonSet, jsonDel, claimField) are read and written with Redis's cjson;
 * one that does not decode to an object is taken as empty, as the JavaScript side would.
 */
import type { StoreOp } from './types';
import { StoreErrors } from '../errors';
import { checkJsonValue } from './json-field';

const JSON_RECORDS = `
local function decodeObject(raw)
  if not raw then return {} end
  local ok, v = pcall(cjson.decode, raw)
  if not ok or type(v) ~= 'table' then return {} end
  -- an array decodes to a table too, with number keys
  for k in pairs(v) do if type(k) ~= 'string' then return {} end end
  return v
end
`;

const APPLY_OPS = `${JSON_RECORDS}
local function grow(k, ttl)
  -- a collection's TTL only ever grows (EXPIRE NX + EXPIRE GT in one test), to the millisecond:
  -- TTL rounds to the nearest second, and a set 0.4 s short of ttl would read as long enough
  if redis.call('PTTL', k) < tonumber(ttl) * 1000 then redis.call('EXPIRE', k, ttl) end
end
local function apply(keyFrom, argFrom)
  local a = argFrom
  for i = keyFrom, #KEYS do
    local k, op, x, y, ttl = KEYS[i], ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
    if op == 'set' then redis.call('SET', k, x, 'EX', ttl)
    elseif op == 'del' then redis.call('DEL', k)
    elseif op == 'expire' then redis.call('EXPIRE', k, ttl)
    elseif op == 'sadd' then redis.call('SADD', k, x); grow(k, ttl)
    elseif op == 'srem' then redis.call('SREM', k, x)
    elseif op == 'rpush' then redis.call('RPUSH', k, x); grow(k, ttl)
    elseif op == 'jsonSet' then
      local rec = decodeObject(redis.call('GET', k))
      rec[x] = cjson.decode(y)
      redis.call('SET', k, cjson.encode(rec), 'EX', ttl)
    elseif op == 'jsonDel' then
      local raw = redis.call('GET', k)
      local rec = decodeObject(raw)
      if raw and rec[x] ~= nil then
        rec[x] = nil
        redis.call('SET', k, cjson.encode(rec), 'KEEPTTL')
      end
    else error('ERR unknown store op') end
    a = a + 4
  end
end
`;

/** KEYS: the ops' keys. ARGV: the ops. */
export const MULTI_LUA = `${APPLY_OPS}
apply(1, 1)
return 1
`;

/** KEYS[1] the record, then the ops' keys. ARGV: the record's value and TTL, then the ops. */
export const CREATE_WITH_LUA = `${APPLY_OPS}
if not redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then
  return {0, redis.call('GET', KEYS[1])}
end
apply(2, 3)
return {1}
`;

/**
 * KEYS: the n records, then the ops' keys. ARGV: n, each record's value and TTL, then the ops.
 * One EXISTS over the records decides; only a refusal reads them.
 */
export const CREATE_ALL_LUA = `${APPLY_OPS}
local n = tonumber(ARGV[1])
local records = {}
for i = 1, n do records[i] = KEYS[i] end
if redis.call('EXISTS', unpack(records)) > 0 then
  local out = {0}
  for i = 1, n do out[i + 1] = redis.call('GET', KEYS[i]) end
  return out
end
for i = 1, n do redis.call('SET', KEYS[i], ARGV[2 * i], 'EX', ARGV[2 * i + 1]) end
apply(n + 1, 2 * n + 2)
return {1}
`;

/**
 * KEYS: the n records, then the ops' keys. ARGV: n, then for each record '1' and the expected
 * value (or '0' and '' for "absent"), the next value and its TTL; then the ops. Every record is
 * compared before anything is written; a refusal returns what each holds.
 */
export const COMPARE_AND_SET_ALL_LUA = `${APPLY_OPS}
local n = tonumber(ARGV[1])
local out = {0}
local same = true
for i = 1, n do
  local cur = redis.call('GET', KEYS[i])
  local has, expected = ARGV[4 * i - 2], ARGV[4 * i - 1]
  if (has == '0' and cur) or (has == '1' and cur ~= expected) then same = false end
  out[i + 1] = cur
end
if not same then return out end
for i = 1, n do redis.call('SET', KEYS[i], ARGV[4 * i], 'EX', ARGV[4 * i + 1]) end
apply(n + 1, 4 * n + 2)
return {1}
`;

/**
 * KEYS[1] the JSON-object record, then the keys to read. ARGV: the field, its value (JSON), the
 * record's TTL. Returns 1 and the reads when the claim is this caller's, else 0, the field's
 * value (JSON) and the reads.
 */
export const CLAIM_FIELD_LUA = `${JSON_RECORDS}
local rec = decodeObject(redis.call('GET', KEYS[1]))
local held = rec[ARGV[1]]
local out = {1, false}
if held == nil then
  rec[ARGV[1]] = cjson.decode(ARGV[2])
  redis.call('SET', KEYS[1], cjson.encode(rec), 'EX', ARGV[3])
else
  out = {0, cjson.encode(held)}
end
for i = 2, #KEYS do out[i + 1] = redis.call('GET', KEYS[i]) end
return out
`;

/** KEYS[1]. ARGV: '1' and the expected value, or '0' and '' for "absent"; the new value; its TTL. */
export const COMPARE_AND_SET_LUA = `
local cur = redis.call('GET', KEYS[1])
if (ARGV[1] == '0' and cur) or (ARGV[1] == '1' and cur ~= ARGV[2]) then
  if cur then return {0, cur} end
  return {0}
end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
return {1}
`;

/** KEYS[1]. ARGV[1]: the value it must hold to be deleted. Returns 1 when it was deleted, else 0. */
export const DELETE_IF_EQUALS_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** a TTL Redis would take, checked before anything is written */
export function validTtl(ttlSeconds: number): boolean {
  return Number.isInteger(ttlSeconds) && ttlSeconds > 0;
}

/** the ops' keys and their ARGV slots */
export function encodeOps(ops: StoreOp[]): { keys: string[]; args: (string | number)[] } {
  const keys: string[] = [];
  const args: (string | number)[] = [];
  for (const op of ops) {
    if ('ttlSeconds' in op && !validTtl(op.ttlSeconds)) throw StoreErrors.ttlInvalid();
    keys.push(op.key);
    switch (op.op) {
      case 'set':
        args.push('set', op.value, '', op.ttlSeconds);
        break;
      case 'del':
        args.push('del', '', '', '');
        break;
      case 'expire':
        args.push('expire', '', '', op.ttlSeconds);
        break;
      case 'sadd':
        args.push('sadd', op.member, '', op.ttlSeconds);
        break;
      case 'srem':
        args.push('srem', op.member, '', '');
        break;
      case 'rpush':
        args.push('rpush', op.value, '', op.ttlSeconds);
        break;
      case 'jsonSet':
        checkJsonValue(op.value);
        args.push('jsonSet', op.field, op.value, op.ttlSeconds);
        break;
      case 'jsonDel':
        args.push('jsonDel', op.field, '', '');
        break;
    }
  }
  return { keys, args };
}
