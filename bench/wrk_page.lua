-- The page scenario (BENCH §1) for wrk: what a browser asks for, GET / then GET /test.jpg, in turn.
-- wrk_report.lua, beside this file, adds done(): wrk's report as the JSON line bench/wrk.py reads.
dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "") .. "wrk_report.lua")

local paths = {"/", "/test.jpg"}
local sent = 0

request = function()
  sent = sent + 1
  return wrk.format("GET", paths[(sent - 1) % #paths + 1])
end
