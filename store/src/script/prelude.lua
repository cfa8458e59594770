-- Ferrite: the Lua VM prelude. It runs once per VM, before any user code,
-- with the full standard library and the private `bridge` table (Rust
-- helpers), and shapes the globals as Redis 7.0's sandbox does:
--   * no print/getfenv/setfenv/module/require/dofile/loadfile/newproxy/
--     debug/os/io/package;
--   * the globals and every library table read-only ("Attempt to modify a
--     readonly table"), reading a missing global is an error;
--   * the `redis` API (call, pcall, error_reply, status_reply, sha1hex, log,
--     setresp, set_repl, ...);
--   * `pcall` returning an error reply's text, as Redis 7.0's does.
-- Read-only tables are emulated with empty proxies whose metatable forwards
-- reads and refuses writes (Redis patches the VM instead); `rawset`,
-- `rawget`, `next`, `pairs`, `ipairs` and `setmetatable` see through them.
-- Returns the error handler, the proxy to install as the globals, and the
-- real globals table (where KEYS and ARGV are set).

local bridge, kind, version, version_num = ...
local G = _G
local type, tostring, error, select = type, tostring, error, select
local next, pairs, ipairs = next, pairs, ipairs
local rawget, rawset = rawget, rawset
local setmetatable, getmetatable = setmetatable, getmetatable
local raw_pcall, raw_loadstring = pcall, loadstring
local strfind, strsub, strbyte = string.find, string.sub, string.byte
local concat = table.concat
local dbg = debug
local PRELUDE = dbg.getinfo(1, 'S').source

for _, name in ipairs({'print', 'getfenv', 'setfenv', 'module', 'require',
    'dofile', 'loadfile', 'newproxy', 'debug', 'os', 'io', 'package'}) do
  G[name] = nil
end

-- The message handler of every script call: turns any error into an error
-- table {err=..., source=..., line=...} pointing at the user's code (the
-- first frame that is neither C nor this prelude).
local function handler(e)
  local info
  local level = 2
  while true do
    info = dbg.getinfo(level, 'Sl')
    if not info or (info.what ~= 'C' and info.source ~= PRELUDE) then break end
    level = level + 1
  end
  local msg
  if type(e) == 'table' then
    msg = rawget(e, 'err')
  elseif type(e) == 'userdata' then
    local text, positional = bridge.errtext(e)
    if positional and info and info.currentline > 0 then
      text = info.short_src .. ':' .. info.currentline .. ': ' .. text
    end
    msg = 'ERR ' .. text
  else
    msg = 'ERR ' .. tostring(e)
  end
  local out = {err = msg}
  if info then
    out.source = info.source
    out.line = info.currentline
  end
  return out
end

-- pcall: an error table's `err` text is returned instead of the table.
local function pfix(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == 'table' then
    local m = rawget(e, 'err')
    if type(m) == 'string' or type(m) == 'number' then return false, m end
  elseif type(e) == 'userdata' then
    return false, (bridge.errtext(e))
  end
  return false, e
end
-- A script being killed cannot catch the kill: pcall and xpcall re-raise
-- any error while the kill flag is up.
local function killed_check(ok, ...)
  if not ok and bridge.killed() then error((...), 0) end
  return ok, ...
end
G.pcall = function(...) return pfix(killed_check(raw_pcall(...))) end
local raw_xpcall0 = xpcall
G.xpcall = function(...) return killed_check(raw_xpcall0(...)) end

-- No binary chunks.
G.loadstring = function(s, name)
  if type(s) == 'string' and strbyte(s, 1) == 27 then
    return nil, 'binary chunks are not allowed'
  end
  return raw_loadstring(s, name)
end
G.load = function(f, name)
  local pieces = {}
  while true do
    local p = f()
    if p == nil or p == '' then break end
    if type(p) ~= 'string' then return nil, 'reader function must return a string' end
    pieces[#pieces + 1] = p
  end
  return G.loadstring(concat(pieces), name or '=(load)')
end

-- Read-only tables.
local proxies = setmetatable({}, {__mode = 'k'})
local function deny() error('Attempt to modify a readonly table', 2) end
local EMPTY = setmetatable({}, {__newindex = deny, __metatable = false})
proxies[EMPTY] = {}
local function protect(real)
  local proxy = setmetatable({}, {__index = real, __newindex = deny, __metatable = EMPTY})
  proxies[proxy] = real
  return proxy
end
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end

G.rawset = function(t, k, v)
  if proxies[t] then error('Attempt to modify a readonly table', 0) end
  return rawset(t, k, v)
end
G.rawget = function(t, k) return rawget(proxies[t] or t, k) end
G.next = function(t, k) return next(proxies[t] or t, k) end
G.pairs = function(t) return pairs(proxies[t] or t) end
G.ipairs = function(t) return ipairs(proxies[t] or t) end
G.setmetatable = function(t, mt)
  if proxies[t] then error('Attempt to modify a readonly table', 0) end
  return setmetatable(t, mt)
end

-- The redis API.
local function raise(msg) error({err = msg}, 0) end
local lift = bridge.raiser
local function trim(s)
  local a, b = 1, #s
  while a <= b and (strsub(s, a, a) == '\r' or strsub(s, a, a) == '\n') do a = a + 1 end
  while b >= a and (strsub(s, b, b) == '\r' or strsub(s, b, b) == '\n') do b = b - 1 end
  return strsub(s, a, b)
end

local R = {}
R.call = lift(function(...)
  local r, failed = bridge.dispatch(true, ...)
  if failed then return nil, r end
  return r
end)
R.pcall = function(...)
  return (bridge.dispatch(false, ...))
end
R.error_reply = function(...)
  local e = ...
  if select('#', ...) ~= 1 or type(e) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  if strsub(e, 1, 1) ~= '-' then e = '-' .. e end
  local sp = strfind(e, ' ', 1, true)
  local code, msg
  if sp then
    code, msg = strsub(e, 2, sp - 1), strsub(e, sp + 1)
  else
    code, msg = 'ERR', strsub(e, 2)
  end
  return {err = code .. ' ' .. trim(msg)}
end
R.status_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  return {ok = s}
end
R.sha1hex = lift(bridge.sha1hex)
R.log = lift(bridge.log)
R.set_repl = lift(bridge.set_repl)
R.acl_check_cmd = lift(bridge.acl_check_cmd)
R.setresp = lift(function(...) return bridge.setresp(...) end)
R.LOG_DEBUG, R.LOG_VERBOSE, R.LOG_NOTICE, R.LOG_WARNING = 0, 1, 2, 3
R.REPL_NONE, R.REPL_AOF, R.REPL_SLAVE, R.REPL_REPLICA, R.REPL_ALL = 0, 1, 2, 2, 3
R.REDIS_VERSION, R.REDIS_VERSION_NUM = version, version_num
if kind == 'eval' then
  R.replicate_commands = function() return true end
  R.breakpoint = function() return false end
  R.debug = function() end
end

for _, name in ipairs({'string', 'table', 'math', 'coroutine', 'bit', 'cjson', 'cmsgpack', 'struct'}) do
  if rawget(G, name) then G[name] = protect(G[name]) end
end
G.redis = protect(R)
local smt = getmetatable('')
smt.__index = G.string
smt.__metatable = protect({__index = G.string})
G.__redis__err__handler = handler
setmetatable(G, {__index = missing})

local GMT = {__index = G, __newindex = deny, __metatable = EMPTY}
local P = setmetatable({}, GMT)
proxies[P] = G
G._G = P

if kind == 'function' then
  -- FUNCTION LOAD runs the library code with only this API visible.
  local FLAGS = {['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true,
                 ['no-cluster'] = true, ['allow-cross-slot-keys'] = true}
  local function rerr(msg) raise('ERR ' .. msg) end
  local function valid_name(s)
    return s ~= '' and not strfind(s, '[^%w_]')
  end
  local function register_function(...)
    local n = select('#', ...)
    local name, cb, flags, desc
    if n == 1 then
      local t = ...
      if type(t) ~= 'table' then
        rerr('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
      end
      for k, v in next, t do
        if k == 'function_name' then
          if type(v) ~= 'string' and type(v) ~= 'number' then
            rerr('function_name argument given to redis.register_function must be a string')
          end
          name = tostring(v)
        elseif k == 'callback' then
          if type(v) ~= 'function' then
            rerr('callback argument given to redis.register_function must be a function')
          end
          cb = v
        elseif k == 'flags' then
          if type(v) ~= 'table' then
            rerr('flags argument to redis.register_function must be a table representing function flags')
          end
          flags = v
        elseif k == 'description' then
          if type(v) ~= 'string' and type(v) ~= 'number' then
            rerr('description argument given to redis.register_function must be a string')
          end
          desc = tostring(v)
        else
          rerr('unknown argument given to redis.register_function')
        end
      end
      if not name then rerr('redis.register_function must get a function name argument') end
      if not cb then rerr('redis.register_function must get a callback argument') end
    elseif n == 2 then
      name, cb = ...
      if type(name) ~= 'string' and type(name) ~= 'number' then
        rerr('first argument to redis.register_function must be a string')
      end
      name = tostring(name)
      if type(cb) ~= 'function' then
        rerr('second argument to redis.register_function must be a function')
      end
    else
      rerr('wrong number of arguments to redis.register_function')
    end
    local flag_list = {}
    if flags then
      for _, f in next, flags do
        if type(f) ~= 'string' or not FLAGS[f] then rerr('unknown flag given') end
        flag_list[#flag_list + 1] = f
      end
    end
    if not valid_name(name) then
      rerr('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long')
    end
    local reg = bridge.registered
    for i = 1, #reg do
      if reg[i].name == name then rerr('Function already exists in the library') end
    end
    reg[#reg + 1] = {name = name, callback = cb, flags = flag_list, description = desc}
  end

  local LR = {register_function = register_function, log = R.log,
              LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
              REDIS_VERSION = version, REDIS_VERSION_NUM = version_num}
  setmetatable(LR, {__index = missing})
  local LG = setmetatable({redis = protect(LR)}, {__index = missing})
  bridge.loading = function(on)
    GMT.__index = on and LG or G
  end
end

-- Runs a function with (keys, args) under the handler (Lua 5.1's xpcall
-- passes no arguments).
local raw_xpcall = raw_xpcall0
bridge.invoke = function(f, h, keys, args)
  return raw_xpcall(function() return f(keys, args) end, h)
end

return handler, P, G
