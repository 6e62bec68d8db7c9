-- The page scenario (BENCH §1) for wrk: what a browser asks for, GET / then GET /test.jpg, in turn.
local paths = {"/", "/test.jpg"}
local sent = 0

request = function()
  sent = sent + 1
  return wrk.format("GET", paths[(sent - 1) % #paths + 1])
end
