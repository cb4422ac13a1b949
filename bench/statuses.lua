-- wrk script: count the answers by HTTP status, and the 200s that carry no
-- views (Redis skipped), across all threads. Printed at the end as
-- "status <code> <count>" lines and a "without views <count>" line
-- (bench/wrk.py reads them).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
  without_views = 0
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if status == 200 and body and not string.find(body, '"views":', 1, true) then
    without_views = without_views + 1
  end
end

function done(summary, latency, requests)
  local total, without = {}, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("counts")) do
      total[status] = (total[status] or 0) + count
    end
    without = without + thread:get("without_views")
  end
  for status, count in pairs(total) do
    io.write(string.format("status %d %d\n", status, count))
  end
  io.write(string.format("without views %d\n", without))
end
