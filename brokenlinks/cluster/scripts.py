"""The Lua scripts of the Redis cluster (:mod:`brokenlinks.cluster.remote`).

Each makes one step of the cluster atomic: *join* a run, *heartbeat* (count the live
nodes by Redis's own clock), *renew*, *acquire* and *release* leases of virtual shards,
*take* a shard's pending entries over, *ask* for a target's verdict (claim it and queue
its check if nobody has), *answer* it (the first verdict wins and reaches every waiter),
*settle* a verdict decided without a request (the first node's wins: the store keeps one
check of it).

The referring pages' reliable queue (:mod:`brokenlinks.cluster.pages`) has its own, on
scrapy-redis' queue key: *pop* a page into the node's taken hash, *beat* (the node's
heartbeat, and a dead node's taken pages put back in the queue, once), *give back* (a
node leaving puts back what it still holds). Keys not passed as ``KEYS`` (a dead node's
taken hash) are built inside the script from a prefix: one Redis server, not Redis Cluster.
"""

from __future__ import annotations

# KEYS: run; ARGV: a new run id, run ms → the run id of the nodes alive together
JOIN = """
local run = redis.call('GET', KEYS[1])
if not run then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  run = ARGV[1]
end
return run
"""
# KEYS: nodes, run; ARGV: node, lease ms, key ttl ms, serving (1/0), run ms. Redis's clock.
HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return redis.call('ZCARD', KEYS[1])
"""
# KEYS: leases held; ARGV: node, lease ms → 1 (renewed) or 0 (lost) per key
RENEW = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""
# KEYS: candidate leases in preference order; ARGV: node, lease ms, how many → positions
ACQUIRE = """
local got = {}
for i, key in ipairs(KEYS) do
  if #got >= tonumber(ARGV[3]) then break end
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then got[#got + 1] = i end
end
return got
"""
RELEASE = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
"""
# KEYS: streams of shards leased; ARGV: group, node, ttl ms, min idle ms, create (1/0)
# → {position, entry id, fields} of every pending entry idle that long, now this node's
TAKE = """
local out = {}
for i, key in ipairs(KEYS) do
  if ARGV[5] == '1' then
    redis.pcall('XGROUP', 'CREATE', key, ARGV[1], '0', 'MKSTREAM')
    redis.call('PEXPIRE', key, ARGV[3])
  end
  if redis.call('EXISTS', key) == 1 then
    local cursor = '0-0'
    repeat
      local r = redis.pcall('XAUTOCLAIM', key, ARGV[1], ARGV[2], ARGV[4], cursor, 'COUNT', 100)
      if type(r) ~= 'table' or r.err then break end
      cursor = r[1]
      for _, e in ipairs(r[2]) do out[#out + 1] = {i, e[1], e[2]} end
    until cursor == '0-0'
  end
end
return out
"""
# KEYS: verdict, waiters, claim, stream; ARGV: reply stream, entry, ttl ms
# → {1, verdict} known; {2} claimed (entry added); {3} claimed by another node (waiting)
ASK = """
local verdict = redis.call('GET', KEYS[1])
if verdict then return {1, verdict} end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[3]) then
  redis.call('XADD', KEYS[4], '*', 'm', ARGV[2])
  redis.call('PEXPIRE', KEYS[4], ARGV[3])
  return {2}
end
return {3}
"""
# KEYS: verdict, waiters, claim, stream; ARGV: group, entry id, verdict, ttl ms, reply
# message → 1 (the verdict of the cluster) or 0 (an earlier check answered already)
ANSWER = """
redis.call('XACK', KEYS[4], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[4], ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
for _, reply in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('XADD', reply, '*', 'm', ARGV[5])
  redis.call('PEXPIRE', reply, ARGV[4])
end
redis.call('DEL', KEYS[2], KEYS[3])
return 1
"""
# KEYS: verdict; ARGV: verdict, ttl ms → the cluster's verdict decided without a request
# (an unparseable href, a mailto: link), or nil: this one is, now
SETTLE = """
local verdict = redis.call('GET', KEYS[1])
if verdict then return verdict end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""

# Redis's clock, in milliseconds (the nodes' clocks need not agree)
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
# put taken entries back where the queue of this kind pops next (a priority entry is
# "score|request": the score it had)
_PUT_BACK = """
local function put_back(queue, kind, entries)
  for _, e in ipairs(entries) do
    if kind == 'priority' then
      local bar = string.find(e, '|', 1, true)
      redis.call('ZADD', queue, string.sub(e, 1, bar - 1), string.sub(e, bar + 1))
    elseif kind == 'fifo' then
      redis.call('RPUSH', queue, e)
    else
      redis.call('LPUSH', queue, e)
    end
  end
end
"""
# KEYS: queue, taken hash of this node, nodes; ARGV: kind (priority, fifo, lifo), token,
# node → the request popped (nil: the queue is empty), now in the taken hash under token
POP = (
    _NOW
    + """
local data, entry
if ARGV[1] == 'priority' then
  local r = redis.call('ZPOPMIN', KEYS[1])
  if #r == 0 then return false end
  data = r[1]
  entry = r[2] .. '|' .. r[1]
else
  if ARGV[1] == 'fifo' then data = redis.call('RPOP', KEYS[1]) else data = redis.call('LPOP', KEYS[1]) end
  if not data then return false end
  entry = data
end
redis.call('HSET', KEYS[2], ARGV[2], entry)
redis.call('ZADD', KEYS[3], now, ARGV[3])
return data
"""
)
# KEYS: nodes, queue; ARGV: node, lease ms, kind, taken prefix, beat (1/0), drop (1/0)
# → {1 if this node was not in the nodes (new, or taken for dead), pages the other live
# nodes hold, then node, count for every dead node whose taken pages were put back (or
# dropped)}. A node is dead when its last beat is a lease old, as the checks' leases.
BEAT = (
    _NOW
    + _PUT_BACK
    + """
local added = 0
if ARGV[5] == '1' then added = redis.call('ZADD', KEYS[1], now, ARGV[1]) end
local out = {added, 0}
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
for _, node in ipairs(dead) do
  if node ~= ARGV[1] then
    local taken = ARGV[4] .. node
    local entries = redis.call('HVALS', taken)
    if ARGV[6] ~= '1' then put_back(KEYS[2], ARGV[3], entries) end
    redis.call('DEL', taken)
    redis.call('ZREM', KEYS[1], node)
    out[#out + 1] = node
    out[#out + 1] = #entries
  end
end
for _, node in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if node ~= ARGV[1] then out[2] = out[2] + redis.call('HLEN', ARGV[4] .. node) end
end
return out
"""
)
# KEYS: queue, taken hash of this node, nodes; ARGV: kind, node, leave (1/0)
# → pages put back
GIVE_BACK = (
    _PUT_BACK
    + """
local entries = redis.call('HVALS', KEYS[2])
put_back(KEYS[1], ARGV[1], entries)
redis.call('DEL', KEYS[2])
if ARGV[3] == '1' then redis.call('ZREM', KEYS[3], ARGV[2]) end
return #entries
"""
)

#: every script by the name the node registers it under
ALL = {
    "join": JOIN,
    "heartbeat": HEARTBEAT,
    "renew": RENEW,
    "acquire": ACQUIRE,
    "release": RELEASE,
    "take": TAKE,
    "ask": ASK,
    "answer": ANSWER,
    "settle": SETTLE,
}

#: the reliable page queue's scripts, registered by each queue on scrapy-redis' client
PAGES = {"pop": POP, "beat": BEAT, "give_back": GIVE_BACK}
