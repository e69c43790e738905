-- wrk script for bench/server_bench.py: cycles through the URL-paths in the
-- file $BENCH_PATHS (one a line, "@HOST PATH" to name the Host), each wrk thread starting at its own
-- offset, and counts the responses whose status is not the expected one
-- ($BENCH_EXPECT: "3xx" for hits, a number such as "404" for misses).
-- done() prints "BENCH_BAD <count>" for the driver to parse.

local threads = {}
local next_id = 0

function setup(thread)
    thread:set("id", next_id)
    next_id = next_id + 1
    table.insert(threads, thread)
end

local reqs = {}
local n, i = 0, 0
local lo, hi = 300, 399
bad = 0

function init(args)
    -- A line "@HOST PATH" sends that Host header (host rules); a bare
    -- PATH sends wrk's default.
    for line in io.lines(os.getenv("BENCH_PATHS")) do
        n = n + 1
        local host, path = line:match("^@(%S+) (.*)$")
        if host then
            reqs[n] = wrk.format("GET", path, { Host = host })
        else
            reqs[n] = wrk.format("GET", line)
        end
    end
    -- Threads start half-way apart so they do not request in lock step.
    i = ((id or 0) * math.floor(n / 2)) % n
    local want = os.getenv("BENCH_EXPECT") or "3xx"
    if want ~= "3xx" then
        lo = tonumber(want)
        hi = lo
    end
end

function request()
    i = i % n + 1
    return reqs[i]
end

function response(status, headers, body)
    if status < lo or status > hi then
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local total = 0
    for _, t in ipairs(threads) do
        total = total + t:get("bad")
    end
    io.write(string.format("BENCH_BAD %d\n", total))
end
