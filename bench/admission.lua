-- wrk script for bench/admission.sh: POSTs real AdmissionReview bodies
-- (Pod CREATE captures from the fixtures), round-robin, and prints
-- latency percentiles and error counts as one machine-readable line.
--   BODIES=file1:file2:... wrk -s bench/admission.lua https://127.0.0.1:PORT/validate

local bodies = {}
local next_body = 1

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

function init(args)
  for path in string.gmatch(os.getenv("BODIES") or "", "[^:]+") do
    bodies[#bodies + 1] = read(path)
  end
  assert(#bodies > 0, "set BODIES to AdmissionReview files separated by ':'")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.0f p50_us=%d p99_us=%d p999_us=%d max_us=%d errors=%d non2xx=%d timeouts=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
    errors, e.status, e.timeout))
end
