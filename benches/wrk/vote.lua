-- Votes and un-votes in turn over posts 1..WRK_POSTS, so most requests
-- succeed (201) rather than repeat a vote (409).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local posts = tonumber(os.getenv("WRK_POSTS") or "1000")
local n = 0
local thread_offset = 0
function setup(thread)
  thread:set("thread_offset", math.random(0, 1000000))
end
function request()
  n = n + 1
  local i = n + thread_offset
  local post = (i % posts) + 1
  local dir = math.floor(i / posts) % 2 == 0 and 1 or 0
  return wrk.format(nil, nil, nil, string.format('{"post_id": %d, "dir": %d}', post, dir))
end
