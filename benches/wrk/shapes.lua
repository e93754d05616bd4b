-- Loads the posts of benches/shapes.sh over HTTP (the memory store):
-- WRK_POSTS posts numbered 1..WRK_POSTS in the shape that benches/shapes.sh
-- inserts by SQL on PostgreSQL: numbers i % 5 in {1, 2} are drafts of the
-- drafter (WRK_DRAFTER_TOKEN), the rest published by the author
-- (WRK_AUTHOR_TOKEN), every 50,000th of those titled "Rare kumquat ...".
-- Run with one thread (-t1): the counter is per thread. Past WRK_POSTS it
-- asks for /healthz and exits once every post has been answered.
local total = tonumber(os.getenv("WRK_POSTS"))
local author = "Bearer " .. os.getenv("WRK_AUTHOR_TOKEN")
local drafter = "Bearer " .. os.getenv("WRK_DRAFTER_TOKEN")
local content = string.sub(string.rep("lorem ipsum ", 17), 1, 200)
local sent, answered, failed = 0, 0, 0

function request()
  sent = sent + 1
  local i = sent
  if i > total then
    return wrk.format("GET", "/healthz", {}, nil)
  end
  local title, token, published
  if i % 5 == 1 or i % 5 == 2 then
    title, token, published = "Seeded draft number " .. i, drafter, "false"
  elseif i % 50000 == 0 then
    title, token, published = "Rare kumquat number " .. i, author, "true"
  else
    title, token, published = "Seeded post number " .. i, author, "true"
  end
  local body = string.format('{"title": "%s", "content": "%s", "published": %s}', title, content, published)
  return wrk.format("POST", "/posts", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = token,
  }, body)
end

-- A post answers 201 (anything else is a failure); /healthz 200, asked
-- for only once every post has been sent. Connections answer in order, so
-- after 1,000 of those every post has been answered (or lost with its
-- connection, which wrk does not report here: benches/shapes.sh counts).
local healthz = 0
function response(status)
  if status == 200 then
    healthz = healthz + 1
    if healthz >= 1000 then
      -- wrk runs for its -d whatever its threads do: end the process.
      io.stderr:write(string.format("%d posts answered, %d failed\n", answered, failed))
      os.exit(failed == 0 and 0 or 1)
    end
    return
  end
  answered = answered + 1
  if status ~= 201 then
    failed = failed + 1
  end
end
