-- wrk: alternate GET and POST. nginx retries a failed GET on another upstream but never
-- a POST, so a connection reset on the worker side shows up as an error here.
local n = 0
request = function()
  n = n + 1
  if n % 2 == 0 then
    -- wrk.format() takes these instead of wrk.headers: keep those given with -H.
    local headers = { ["Content-Type"] = "text/plain" }
    for k, v in pairs(wrk.headers) do headers[k] = v end
    return wrk.format("POST", nil, headers, "payload " .. n)
  end
  return wrk.format("GET")
end

done = function(summary, latency, requests)
  io.write(string.format("sockd: requests=%d non2xx=%d connect=%d read=%d write=%d timeout=%d max_latency_ms=%.1f\n",
    summary.requests, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency.max / 1000))
end
