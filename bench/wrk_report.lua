-- wrk's report as one JSON line, from its done() hook: what bench/wrk.py (parse_wrk) reads instead of wrk's text.
--
-- wrk takes one -s script. Without a scenario, bench/wrk.py passes this file; a scenario script (wrk_page.lua)
-- loads it first, from the scenario's own folder:
--   dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "") .. "wrk_report.lua")
-- bench/wrk.py refuses a script that does not name wrk_report.lua.
-- It defines done() only: no request() or response(), so wrk's requests stay what the scenario makes them.
--
-- The line is {"wrk_report": 1, ...}: counts are whole numbers, times are wrk's microseconds, as wrk keeps them
-- (duration_us from the start of the run to its end; the latency of each answer, from its request's send).

local function number(value)
  if value ~= value or value == math.huge or value == -math.huge then
    return "null"
  end
  return string.format("%.17g", value)
end

local function object(pairs_in_order)
  local parts = {}
  for _, pair in ipairs(pairs_in_order) do
    local value = pair[2]
    parts[#parts + 1] = string.format("%q: %s", pair[1], type(value) == "string" and value or number(value))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(object({
    {"wrk_report", 1},
    {"requests", summary.requests},
    {"duration_us", summary.duration},
    {"bytes", summary.bytes},
    {"errors", object({
      {"connect", errors.connect}, {"read", errors.read}, {"write", errors.write},
      {"timeout", errors.timeout}, {"status", errors.status},
    })},
    {"latency_us", object({
      {"mean", latency.mean}, {"stdev", latency.stdev}, {"max", latency.max},
      {"p50", latency:percentile(50)}, {"p75", latency:percentile(75)},
      {"p90", latency:percentile(90)}, {"p99", latency:percentile(99)},
    })},
  }), "\n")
  io.flush()
end
