-- wrk script for test/soak/soak.py (`make soak`).
--
-- Run as `wrk -tN -cN` (ONE connection per wrk thread): then each thread's
-- Lua state has exactly one request in flight, so every response can be
-- checked against the request that caused it, and a request that gets no
-- response at all (the connection failed after it was sent) is noticed
-- when wrk asks this thread for its next request.
--
-- The request mix mirrors the map soak.py writes (counts from the
-- environment):
--   /old/N          -> /new/N           307 (308 when N % 10 == 7)
--   /pre/N/*        -> /newpre/N/*      307
--   /q/N?id=N&v=1   -> /newq/N          307
--   /gone/N         -> -                410
-- The edited map sends the rules with N % SOAK_EDIT_MOD == 0 to /newer...
-- instead, so either target is expected for those, and only the first for
-- the others.  Misses must be 404 without a Location; /static.html is 200.
--
-- Environment: SOAK_BASE (http://127.0.0.1:PORT, the expected Location
-- prefix), SOAK_EXACT, SOAK_PREFIX, SOAK_QUERY, SOAK_GONE, SOAK_EDIT_MOD,
-- SOAK_TAG (request-id prefix), SOAK_OUT (file done() writes).
-- Every request carries "X-Soak-Id: <tag><thread>-<seq>" so that soak.py
-- can look a request without a response up in httpd's access log.
--
-- done() writes SOAK_OUT, one record a line:
--   count <name> <n>
--   lost <id> <kind> <method> <path> <prev-kind> <prev-closed>
--   bad <id> <kind> <method> <path> <status> <location> want <status> <loc>

local threads = {}
local next_tid = 0

function setup(thread)
    thread:set("tid", next_tid)
    next_tid = next_tid + 1
    table.insert(threads, thread)
end

-- per-thread state (each wrk thread has its own Lua state)
counts = {}
lost = {}
bad = {}
local base, n_exact, n_prefix, n_query, n_gone, edit_mod, tag
local seq = 0
local started = false
pending = nil                -- the request in flight on this thread's connection (global: done() reads it)
local prev_kind, prev_closed = "-", "-"

local function bump(name, by)
    counts[name] = (counts[name] or 0) + (by or 1)
end

local function env_num(name, default)
    return tonumber(os.getenv(name) or "") or default
end

function init(args)
    base = os.getenv("SOAK_BASE") or ("http://" .. wrk.host .. ":" .. wrk.port)
    n_exact = env_num("SOAK_EXACT", 90000)
    n_prefix = env_num("SOAK_PREFIX", 4000)
    n_query = env_num("SOAK_QUERY", 5000)
    n_gone = env_num("SOAK_GONE", 1000)
    edit_mod = env_num("SOAK_EDIT_MOD", 3)
    tag = os.getenv("SOAK_TAG") or "w"
    math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
    -- LuaJIT's first few numbers after seeding are poorly mixed
    for _ = 1, 10 do math.random() end
end

-- expected Locations: the original target, and the edited one if any
local function targets(family, n, rest)
    local one = base .. "/new" .. family .. n .. rest
    if n % edit_mod == 0 then
        return one, base .. "/newer" .. family .. n .. rest
    end
    return one, nil
end

local function exact_status(n)
    if n % 10 == 7 then return 308 end
    return 307
end

-- one random request: kind, method, path, body, status, loc1, loc2
local function pick()
    local r = math.random()
    local k = math.random(0, 999999)
    if r < 0.30 then
        local n = math.random(0, n_exact - 1)
        local l1, l2 = targets("/", n, "")
        return "hit-exact", "GET", "/old/" .. n, nil, exact_status(n), l1, l2
    elseif r < 0.40 then
        local n = math.random(0, n_exact - 1)
        local q = "?src=soak" .. k
        local l1, l2 = targets("/", n, q)
        return "hit-exact-qs", "GET", "/old/" .. n .. q, nil, exact_status(n), l1, l2
    elseif r < 0.50 then
        local n = math.random(0, n_prefix - 1)
        local rest = "/a" .. k .. "/b" .. (k % 97)
        local l1, l2 = targets("pre/", n, rest)
        return "hit-prefix", "GET", "/pre/" .. n .. rest, nil, 307, l1, l2
    elseif r < 0.58 then
        local n = math.random(0, n_query - 1)
        local l1, l2 = targets("q/", n, "")
        return "hit-query", "GET", "/q/" .. n .. "?v=1&id=" .. n, nil, 307, l1, l2
    elseif r < 0.60 then
        local n = math.random(0, n_gone - 1)
        return "hit-gone", "GET", "/gone/" .. n, nil, 410, nil, nil
    elseif r < 0.80 then
        local m = math.random(1, 6)
        local path
        if m == 1 then
            path = "/miss/" .. tag .. (tid or 0) .. "-" .. seq
        elseif m == 2 then
            path = "/old/" .. (n_exact + k)
        elseif m == 3 then
            path = "/q/" .. math.random(0, n_query - 1)
        elseif m == 4 then
            path = "/q/" .. math.random(0, n_query - 1) .. "?id=" .. k
        elseif m == 5 then
            path = "/pre/" .. (n_prefix + k) .. "/x"
        else
            path = "/OLD/" .. math.random(0, n_exact - 1)
        end
        return "miss", "GET", path, nil, 404, nil, nil
    elseif r < 0.82 then
        return "static", "GET", "/static.html", nil, 200, nil, nil
    else
        local body = "field=value&n=" .. k .. "&pad=" .. string.rep("x", k % 200)
        if math.random() < 0.7 then
            local n = math.random(0, n_exact - 1)
            local l1, l2 = targets("/", n, "")
            return "post", "POST", "/old/" .. n, body, exact_status(n), l1, l2
        end
        local n = math.random(0, n_prefix - 1)
        local rest = "/form" .. k
        local l1, l2 = targets("pre/", n, rest)
        return "post", "POST", "/pre/" .. n .. rest, body, 307, l1, l2
    end
end

function request()
    if pending and pending.phantom then
        -- wrk calls request() once in thread 0's state before the run to
        -- check the script (script_verify_request); that one is never sent
        bump("sent", -1)
        bump("sent." .. pending.kind, -1)
        pending = nil
    end
    if pending then
        -- wrk asks for a new request although the last one got no
        -- response: the connection failed after it was sent.
        bump("lost")
        if #lost < 5000 then
            table.insert(lost, string.format("lost %s %s %s %s %s %s",
                pending.id, pending.kind, pending.method, pending.path,
                prev_kind, prev_closed))
        end
    end
    seq = seq + 1
    local kind, method, path, body, status, l1, l2 = pick()
    local id = tag .. (tid or 0) .. "-" .. seq
    local headers = { ["X-Soak-Id"] = id }
    if body then
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    end
    pending = { id = id, kind = kind, method = method, path = path,
                status = status, l1 = l1, l2 = l2,
                phantom = (tid or 0) == 0 and seq == 1 and not started }
    started = true
    bump("sent")
    bump("sent." .. kind)
    return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
    local p = pending
    pending = nil
    bump("responses")
    if not p then
        bump("unmatched")
        return
    end
    local loc = headers["Location"] or headers["location"]
    local ok = status == p.status
    if ok then
        if p.l1 then
            if loc == p.l1 then
                bump("gen.original")
            elseif p.l2 and loc == p.l2 then
                bump("gen.edited")
            else
                ok = false
            end
        elseif loc then
            ok = false           -- a miss (or 410/200) must not redirect
        end
    end
    if ok then
        bump("ok")
        bump("ok." .. p.kind)
    else
        bump("unexpected")
        bump("unexpected." .. p.kind)
        if #bad < 200 then
            table.insert(bad, string.format("bad %s %s %s %s %d %s want %d %s%s",
                p.id, p.kind, p.method, p.path, status, tostring(loc),
                p.status, tostring(p.l1), p.l2 and ("|" .. p.l2) or ""))
        end
    end
    local conn = headers["Connection"] or headers["connection"] or ""
    prev_kind = p.kind
    prev_closed = (string.lower(conn) == "close") and "closed" or "keepalive"
end

function done(summary, latency, requests)
    local total, out = {}, {}
    for _, t in ipairs(threads) do
        local c = t:get("counts") or {}
        for name, v in pairs(c) do
            total[name] = (total[name] or 0) + v
        end
        -- the request each thread had in flight when wrk stopped
        if t:get("pending") then
            total["inflight_at_end"] = (total["inflight_at_end"] or 0) + 1
        end
        for _, line in ipairs(t:get("lost") or {}) do
            table.insert(out, line)
        end
        for _, line in ipairs(t:get("bad") or {}) do
            table.insert(out, line)
        end
    end
    local f = assert(io.open(os.getenv("SOAK_OUT") or "soak-wrk.out", "w"))
    for name, v in pairs(total) do
        f:write(string.format("count %s %d\n", name, v))
    end
    local e = summary.errors
    f:write(string.format("count wrk.requests %d\n", summary.requests))
    f:write(string.format("count wrk.connect %d\n", e.connect))
    f:write(string.format("count wrk.read %d\n", e.read))
    f:write(string.format("count wrk.write %d\n", e.write))
    f:write(string.format("count wrk.timeout %d\n", e.timeout))
    f:write(string.format("count wrk.status %d\n", e.status))
    for _, line in ipairs(out) do
        f:write(line, "\n")
    end
    f:close()
end
