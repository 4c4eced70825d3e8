-- wrk script for tests/load/load.sh: a mix of run submissions, status polls, long polls and
-- result downloads against eirnnd. Arguments (after "--"): MODEL_ID DONE_RUN_ID [WAIT_SECONDS]
--
-- Per thread it keeps the ids of the runs it submitted (from the Location of each 202) and counts
-- answers by class; done() prints one JSON line "LOADSTATS {...}" with the totals, which load.sh
-- checks: no 5xx except 503 queue-full with Retry-After, no socket errors.
local threads = {}
local seq = 0

function setup(thread)
  seq = seq + 1
  thread:set("tid", seq)
  table.insert(threads, thread)
end

local model_id, done_id, wait_s
local recent, nrecent, rpos = {}, 0, 0
counts = {}  -- global: done() reads it with thread:get()
local mix

local function bump(k) counts[k] = (counts[k] or 0) + 1 end

function init(args)
  model_id = args[1]
  done_id = args[2]
  wait_s = args[3] or "2"
  math.randomseed(os.time() * 1000 + (tid or 0))
  local submit = '{"model_id": "' .. model_id .. '", "dt": 0.1, ' ..
      '"inputs": {"steps": 400, "trials": 1}, "record": {"vars": ["r"], "every": 4}}'
  local json_hdr = {["Content-Type"] = "application/json"}
  mix = {
    {w = 0.15, name = "submit", req = function() return wrk.format("POST", "/v1/runs", json_hdr, submit) end},
    {w = 0.30, name = "poll", req = function()
        local id = (nrecent > 0 and math.random() < 0.7) and recent[math.random(nrecent)] or done_id
        return wrk.format("GET", "/v1/runs/" .. id) end},
    {w = 0.10, name = "longpoll", req = function()
        local id = nrecent > 0 and recent[math.random(nrecent)] or done_id
        return wrk.format("GET", "/v1/runs/" .. id .. "?wait=" .. wait_s) end},
    {w = 0.30, name = "download", req = function()
        local r = math.random()
        local q = r < 0.6 and "" or (r < 0.8 and "?format=json&steps=0:20" or "?format=csv&trials=0&neurons=0:3")
        return wrk.format("GET", "/v1/runs/" .. done_id .. "/results/V" .. q) end},
    {w = 0.05, name = "results_list", req = function()
        return wrk.format("GET", "/v1/runs/" .. done_id .. "/results") end},
    {w = 0.05, name = "list", req = function() return wrk.format("GET", "/v1/runs?limit=20") end},
    {w = 0.05, name = "healthz", req = function() return wrk.format("GET", "/healthz") end},
  }
end

function request()
  local r = math.random()
  local acc = 0
  for _, m in ipairs(mix) do
    acc = acc + m.w
    if r < acc then bump("sent_" .. m.name); return m.req() end
  end
  bump("sent_healthz")
  return wrk.format("GET", "/healthz")
end

local function header(headers, name)
  return headers[name] or headers[string.lower(name)]
end

function response(status, headers, body)
  bump("status_" .. status)
  if status == 202 then
    local loc = header(headers, "Location")
    if loc then
      local id = string.match(loc, "/v1/runs/(r_%x+)")
      if id then
        rpos = rpos % 512 + 1
        recent[rpos] = id
        if nrecent < 512 then nrecent = nrecent + 1 end
      end
    end
  elseif status == 503 then
    local ra = header(headers, "Retry-After")
    local full = body and string.find(body, "queue-full", 1, true)
    if full and ra and tonumber(ra) and tonumber(ra) >= 1 then
      bump("queue_full_ok")
    elseif full then
      bump("queue_full_no_retry_after")
    else
      bump("unavailable_503")
      sample_5xx = sample_5xx or string.sub(body or "", 1, 300)
    end
  elseif status >= 500 then
    bump("other_5xx")
    sample_5xx = sample_5xx or string.sub(body or "", 1, 300)
  end
end

function done(summary, latency, requests)
  local tot = {}
  for _, t in ipairs(threads) do
    local tc = t:get("counts")
    if tc then
      for k, v in pairs(tc) do tot[k] = (tot[k] or 0) + v end
    end
  end
  local parts = {}
  for _, t in ipairs(threads) do
    local smp = t:get("sample_5xx")
    if smp then io.write("LOAD5XX " .. smp .. "\n") end
  end
  for k, v in pairs(tot) do table.insert(parts, string.format('"%s": %d', k, v)) end
  table.insert(parts, string.format('"requests": %d', summary.requests))
  table.insert(parts, string.format('"duration_s": %.3f', summary.duration / 1e6))
  table.insert(parts, string.format('"bytes": %d', summary.bytes))
  table.insert(parts, string.format('"err_connect": %d', summary.errors.connect))
  table.insert(parts, string.format('"err_read": %d', summary.errors.read))
  table.insert(parts, string.format('"err_write": %d', summary.errors.write))
  table.insert(parts, string.format('"err_timeout": %d', summary.errors.timeout))
  table.insert(parts, string.format('"err_status": %d', summary.errors.status))
  table.insert(parts, string.format('"lat_p50_ms": %.2f', latency:percentile(50) / 1000))
  table.insert(parts, string.format('"lat_p99_ms": %.2f', latency:percentile(99) / 1000))
  table.insert(parts, string.format('"lat_max_ms": %.2f', latency.max / 1000))
  io.write("LOADSTATS {" .. table.concat(parts, ", ") .. "}\n")
end
