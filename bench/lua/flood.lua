-- Cardinality attack: random methods, paths and query strings, never the same twice.
-- Arguments (after `--`): the number of responses to wait for, a random seed, and 1 to leave '%'
-- out of the random characters (no malformed percent-encoding).
-- Once that many responses arrived it prints FLOODDONE (the harness then stops wrk with SIGINT:
-- wrk itself would wait for its -d time); counts responses by status code.
-- HEAD is left out: wrk cannot tell a HEAD response has no body and would hang on it.
local methods = { 'GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS',
  'PROPFIND', 'PURGE', 'SEARCH', 'LOCK', 'MKCOL', 'COPY', 'TRACE', 'REPORT', 'UNLINK' }
local chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~%'
local nchars = #chars
local announced = false
local threads = {}

local function word(max)
  local n = math.random(1, max)
  local t = {}
  for i = 1, n do
    local c = math.random(1, nchars)
    t[i] = chars:sub(c, c)
  end
  return table.concat(t)
end

setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  target = tonumber(args[1]) or 20000
  math.randomseed(tonumber(args[2]) or 1)
  if args[3] == '1' then nchars = nchars - 1 end
  count = 0
  statuses = {}
end

request = function()
  local method = methods[math.random(1, #methods)]
  local r = math.random(1, 20)
  local path
  if r <= 4 then
    path = '/bench/' .. word(12)
  elseif r == 5 then
    path = '/bench/' .. word(8) .. '/' .. word(8)
  elseif r == 6 then
    path = '/metrics/' .. word(8)
  elseif r == 7 then
    path = '/health/' .. word(8)
  elseif r == 8 then
    path = '/users/' .. word(36)
  else
    path = '/' .. word(16)
    for _ = 1, math.random(0, 3) do path = path .. '/' .. word(10) end
  end
  if math.random(1, 2) == 1 then
    path = path .. '?' .. word(8) .. '=' .. word(16)
    if math.random(1, 2) == 1 then path = path .. '&' .. word(8) .. '=' .. word(16) end
  end
  local body = nil
  if method == 'POST' or method == 'PUT' or method == 'PATCH' then body = '{"' .. word(8) .. '":"' .. word(16) .. '"}' end
  return wrk.format(method, path, body and { ['Content-Type'] = 'application/json' } or nil, body)
end

response = function(status, headers, body)
  count = count + 1
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if count >= target and not announced then
    announced = true
    io.stdout:write('FLOODDONE\n')
    io.stdout:flush()
    wrk.thread:stop()
  end
end

done = function(summary, latency, requests)
  local total = 0
  local merged = {}
  for _, thread in ipairs(threads) do
    total = total + thread:get('count')
    for status, n in pairs(thread:get('statuses')) do merged[status] = (merged[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(merged) do table.insert(parts, string.format('"%s":%d', status, n)) end
  io.write(string.format(
    'BENCHJSON {"responses":%d,"requests":%d,"durationUs":%d,"statuses":{%s},'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"latencyUs":{"p50":%d,"p99":%d,"max":%d}}\n',
    total, summary.requests, summary.duration, table.concat(parts, ','),
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
