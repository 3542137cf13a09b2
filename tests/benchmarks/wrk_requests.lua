-- Requests for wrk from a file the HTTP benchmark writes, one per line:
--     <thread number>\t<method>\t<path>\t<body or empty>
-- Each wrk thread sends its own lines in order, round and round: the benchmark decides who
-- sends what (a scan's store and retrieve of one bag stay in one thread, a cycle apart).
-- Headers (token, content type) come from wrk's -H. Answers are counted as they come, and
-- `done` prints one line, BENCH {json}, with the figures the benchmark reads.
--     [WRK_PACE_MS=<ms>] wrk ... -s wrk_requests.lua URL -- <requests file> [<Lua pattern>]
-- The pattern, if given, is one every 2xx body must match. WRK_PACE_MS makes each connection
-- wait that long between an answer and its next request: a steady client, not a flood.

local threads = {}
local next_number = 1

function setup(thread)
    thread:set("number", next_number)
    next_number = next_number + 1
    table.insert(threads, thread)
end

function init(args)
    requests = {}
    position = 0
    non_2xx, unavailable, unexpected = 0, 0, 0
    failed_statuses = {}
    expected = args[2]
    for line in io.lines(args[1]) do
        local owner, method, path, body = line:match("^(%d+)\t(%u+)\t([^\t]+)\t?(.*)$")
        if tonumber(owner) == number then
            if body == "" then body = nil end
            table.insert(requests, wrk.format(method, path, nil, body))
        end
    end
    if #requests == 0 then
        error("no requests for thread " .. number .. " in " .. args[1])
    end
end

-- Defined only when asked for: wrk puts every request of a script that has `delay` on a timer.
local pace = tonumber(os.getenv("WRK_PACE_MS") or "")
if pace then
    function delay()
        return pace
    end
end

function request()
    position = position % #requests + 1
    return requests[position]
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        non_2xx = non_2xx + 1
        failed_statuses[status] = (failed_statuses[status] or 0) + 1
        if status == 503 then unavailable = unavailable + 1 end
    elseif expected and not body:find(expected) then
        unexpected = unexpected + 1
    end
end

function done(summary, latency, requests)
    local totals = { non_2xx = 0, unavailable = 0, unexpected = 0 }
    local statuses = {}
    for _, thread in ipairs(threads) do
        for name, _ in pairs(totals) do
            totals[name] = totals[name] + thread:get(name)
        end
        for status, count in pairs(thread:get("failed_statuses")) do
            statuses[status] = (statuses[status] or 0) + count
        end
    end
    local said = {}
    for status, count in pairs(statuses) do
        table.insert(said, string.format('"%d": %d', status, count))
    end
    local errors = summary.errors
    io.write(string.format(
        'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, '
            .. '"non_2xx": %d, "unavailable": %d, "unexpected": %d, "socket_errors": %d, '
            .. '"failed_statuses": {%s}}\n',
        summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(95), latency:percentile(99),
        totals.non_2xx, totals.unavailable, totals.unexpected,
        errors.connect + errors.read + errors.write + errors.timeout,
        table.concat(said, ", ")
    ))
end
