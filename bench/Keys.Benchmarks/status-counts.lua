-- Counts responses by status across wrk's threads and prints "status <code> <count>" lines at the end.
-- The key comes from the environment, not wrk's command line, which every user of the machine can read.
local key = os.getenv("WRK_API_KEY")
if key and key ~= "" then
  wrk.headers["X-API-Key"] = key
end
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("counts")) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("status %d %d\n", status, count))
  end
end
