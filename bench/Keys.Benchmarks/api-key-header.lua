-- Sends X-API-Key from the environment (not wrk's command line, which every user of the machine can read), and
-- nothing else: no per-response callback, which would slow wrk down at the rates the edge benchmark reaches.
local key = os.getenv("WRK_API_KEY")
if key and key ~= "" then
  wrk.headers["X-API-Key"] = key
end
