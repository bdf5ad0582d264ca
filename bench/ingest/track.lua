-- wrk script of bench/ingest: POST /track with realistic page-view events.
--
--   wrk -t2 -c64 -d10s -s bench/ingest/track.lua http://127.0.0.1:PORT/track -- SITE_IDS_FILE [SEED] [visits]
--
-- SITE_IDS_FILE holds one website id a line; line k is the website of siteK.bench.test
-- (mp_bench_ingest_setup writes it). Each request is one of a pool pre-built in init(), so the
-- load generator spends its time on the wire, not in Lua:
--   * website: one of the ids with power-law weights 1/k (site1 busiest);
--   * page: one of ~2,000 paths on a Zipf curve (1/rank), 35% with a query string (utm_,
--     gclid, fbclid, paging);
--   * host: siteK.bench.test, or www.siteK.bench.test for even K;
--   * referrer: half empty (direct), else a search engine, social site, aggregator or the
--     site itself (internal navigation);
--   * 90% page views, 10% custom events with a couple of props;
--   * User-Agent: one of 12 real browser agents (desktop, iPhone, iPad, Android, Samsung
--     Internet); no bots, which would be answered 202 and not stored;
--   * Connection: keep-alive (Pistache 0.0.5 closes the socket after every request without it);
--   * with "visits" as the third argument, visitors come and go as on a real site: every request
--     carries X-Forwarded-For, a new address after 1 to 8 requests (the daemon must trust
--     127.0.0.1 as a proxy), so the stored visits are many and short. Without it, every request
--     comes from 127.0.0.1, and the 12 user agents make 12 visitors per website whose visits
--     last as long as the run.
--   * MP_TRACK_DELAY_MS in the environment (a whole number of milliseconds) makes each connection
--     wait that long before each of its requests (wrk's delay()): -c64 with 64 ms is about 1,000
--     requests/s in all. Unset, requests go as fast as the daemon answers.
-- Bodies average about 250 bytes. done() prints one "BENCH key=value ..." line for bench/ingest/run.

local POOL = 16384 -- pre-built requests per thread

-- A fixed pace instead of full speed: defined only when asked for, since wrk then sends every
-- request through a timer.
local delay_ms = tonumber(os.getenv("MP_TRACK_DELAY_MS") or "")
if delay_ms and delay_ms > 0 then
  function delay() return delay_ms end
end

local user_agents = {
  -- Chrome, Windows
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  -- Chrome, macOS
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  -- Firefox, Windows
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
  -- Firefox, Linux
  "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  -- Safari, macOS
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
  -- Edge, Windows
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
  -- Safari, iPhone
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
  -- Chrome, iPhone
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
  -- Safari, iPad
  "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  -- Chrome, Android phone
  "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
  -- Samsung Internet, Android phone
  "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
  -- Chrome, Android tablet
  "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
}

local external_referrers = {
  "https://www.google.com/", "https://www.google.com/", "https://www.google.com/",
  "https://www.google.de/", "https://www.bing.com/", "https://duckduckgo.com/",
  "https://search.yahoo.com/", "https://t.co/", "https://l.facebook.com/",
  "https://www.reddit.com/r/selfhosted/comments/1c8x2kq/privacy_friendly_analytics/",
  "https://news.ycombinator.com/item?id=40123456",
  "https://www.linkedin.com/feed/update/urn:li:activity:7191234567890123456/",
  "https://github.com/metricpulse/metricpulse/issues/123", "https://lobste.rs/s/x1y2z3/",
  "https://mail.google.com/", "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
  "https://android-app://com.google.android.gm/", "https://www.ecosia.org/",
  "https://stackoverflow.com/questions/78123456/how-to-track-page-views-without-cookies",
}

local sections = { "blog", "docs", "products", "guides", "news", "help", "pricing", "about",
                   "features", "changelog", "careers", "integrations", "customers", "events" }
local words = { "getting", "started", "installation", "release", "notes", "how", "we", "scaled",
                "privacy", "first", "analytics", "self", "hosting", "faq", "comparison",
                "roadmap", "api", "reference", "configuration", "troubleshooting", "case",
                "study", "webinar", "tutorial", "overview", "migration", "guide", "best",
                "practices", "announcement", "security", "performance", "dashboard", "team",
                "postgresql", "redis", "without", "cookies", "explained", "year", "review" }
local custom_events = { "signup", "download", "outbound-link", "newsletter", "play-video" }
local utm = { "?utm_source=newsletter&utm_medium=email&utm_campaign=spring-launch",
              "?utm_source=twitter&utm_medium=social&utm_campaign=release", "?ref=producthunt",
              "?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=EAIaIQobChMI8pT4kpW2hQMVk5BoCR0",
              "?fbclid=IwAR2xQz1v6mN8bYk3LqT0cJ7hWfRr5sGdPe9uVwXyZaBcDeFgHiJkLmNoPq",
              "?page=2", "?q=self+hosted+analytics&sort=relevance" }

-- Cumulative weights 1/k^s for k = 1..n.
local function zipf_cdf(n, s)
  local cdf, total = {}, 0
  for k = 1, n do
    total = total + 1 / (k ^ s)
    cdf[k] = total
  end
  for k = 1, n do cdf[k] = cdf[k] / total end
  return cdf
end

-- The index k with cdf[k-1] < u <= cdf[k], by bisection.
local function draw(cdf)
  local u = math.random()
  local lo, hi = 1, #cdf
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo
end

local function pick(list) return list[math.random(#list)] end

-- ~2,000 distinct paths, the same set on every thread (fixed seed), most popular first: section
-- pages, documentation pages and dated blog posts with multi-word slugs, as real sites have.
local function slug(min_words, max_words)
  local parts = {}
  for i = 1, math.random(min_words, max_words) do parts[i] = pick(words) end
  return table.concat(parts, "-")
end

local function make_paths(n)
  math.randomseed(12345)
  local paths, seen = { "/" }, { ["/"] = true }
  while #paths < n do
    local kind = math.random(20)
    local p
    if kind == 1 then
      p = "/" .. pick(sections)
    elseif kind <= 6 then
      p = "/" .. pick(sections) .. "/" .. slug(5, 8)
    elseif kind <= 14 then
      p = string.format("/blog/%d/%02d/%s", math.random(2019, 2025), math.random(12), slug(8, 13))
    else
      p = "/docs/v" .. math.random(1, 4) .. "/" .. pick(sections) .. "/" .. slug(4, 6) .. "/" .. slug(2, 5)
    end
    if not seen[p] then
      seen[p] = true
      paths[#paths + 1] = p
    end
  end
  return paths
end

local function read_ids(file)
  local ids = {}
  local f = io.open(file, "r")
  if not f then error("track.lua: cannot read site ids from " .. tostring(file)) end
  for line in f:lines() do
    if line:match("^%x+%-%x+%-%x+%-%x+%-%x+$") then ids[#ids + 1] = line end
  end
  f:close()
  if #ids == 0 then error("track.lua: no website ids in " .. file) end
  return ids
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

-- setup() runs in the main Lua state once per thread: give every thread its own index (its
-- random seed) and keep the thread to collect its counters in done().
local threads = {}
local next_index = 1

function setup(thread)
  thread:set("thread_index", next_index)
  next_index = next_index + 1
  threads[#threads + 1] = thread
end

-- Per-thread state (each wrk thread has its own Lua state).
local requests = {}
local cursor = 0
local heads, tails = {}, {} -- "visits": each request split where its X-Forwarded-For goes
local visits = false
local visitor, left = 0, 0 -- the current visitor (an address) and its requests still to come
statuses = {}       -- status code -> responses seen by this thread
body_bytes = 0      -- sum of the pool's body sizes, for the average
body_count = 0

function init(args)
  local ids_file = args[1] or os.getenv("MP_BENCH_SITE_IDS")
  local seed = tonumber(args[2] or "1") or 1
  visits = args[3] == "visits"
  local ids = read_ids(ids_file)
  local paths = make_paths(2000)
  local site_cdf = zipf_cdf(#ids, 1.0)
  local page_cdf = zipf_cdf(#paths, 1.0)
  math.randomseed(seed * 7919 + (thread_index or 1) * 104729)

  for i = 1, POOL do
    local site = draw(site_cdf)
    -- Half the sites are served from www. (a sub-domain of the registered domain).
    local host = (site % 2 == 0 and "www." or "") .. "site" .. site .. ".bench.test"
    local path = paths[draw(page_cdf)]
    local url = "https://" .. host .. path
    if math.random() < 0.35 then url = url .. pick(utm) end
    local referrer = ""
    local r = math.random()
    if r >= 0.5 then
      if r < 0.65 then
        referrer = "https://" .. host .. paths[draw(page_cdf)] -- internal navigation
      else
        referrer = pick(external_referrers)
      end
    end
    local body
    if math.random() < 0.9 then
      body = '{"websiteId":"' .. ids[site] .. '","eventType":"pageview","url":' .. json_string(url) ..
             ',"referrer":' .. json_string(referrer) .. '}'
    else
      body = '{"websiteId":"' .. ids[site] .. '","eventType":"' .. pick(custom_events) ..
             '","url":' .. json_string(url) .. ',"referrer":' .. json_string(referrer) ..
             ',"props":{"plan":"' .. pick({ "free", "pro", "team" }) .. '","position":' ..
             math.random(1, 5) .. '}}'
    end
    local headers = {
      ["Content-Type"] = "application/json",
      ["Connection"] = "keep-alive",
      ["User-Agent"] = pick(user_agents),
      ["Accept-Language"] = "en-US,en;q=0.9",
    }
    requests[i] = wrk.format("POST", "/track", headers, body)
    if visits then
      local split = requests[i]:find("\r\n", 1, true) -- after the request line
      heads[i] = requests[i]:sub(1, split + 1)
      tails[i] = requests[i]:sub(split + 2)
    end
    body_bytes = body_bytes + #body
    body_count = body_count + 1
  end
end

function request()
  cursor = cursor + 1
  if cursor > POOL then cursor = 1 end
  if not visits then return requests[cursor] end
  if left == 0 then
    visitor = visitor + 1
    left = math.random(1, 8)
  end
  left = left - 1
  -- 10.T.x.y: T the wrk thread, 65,536 visitors each before an address comes back.
  local address = "10." .. (thread_index or 1) .. "." .. (math.floor(visitor / 256) % 256) .. "." .. (visitor % 256)
  return heads[cursor] .. "X-Forwarded-For: " .. address .. "\r\n" .. tails[cursor]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local by_status = {}
  local bytes, count = 0, 0
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do by_status[code] = (by_status[code] or 0) + n end
    bytes = bytes + (thread:get("body_bytes") or 0)
    count = count + (thread:get("body_count") or 0)
  end
  local codes = {}
  for code in pairs(by_status) do codes[#codes + 1] = code end
  table.sort(codes)
  local status_text = {}
  for _, code in ipairs(codes) do status_text[#status_text + 1] = code .. ":" .. by_status[code] end
  local e = summary.errors
  io.write(string.format(
    "BENCH duration_us=%d requests=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f " ..
    "status_202=%d statuses=%s err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d " ..
    "avg_body_bytes=%.1f\n",
    summary.duration, summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    by_status[202] or 0, (#status_text > 0 and table.concat(status_text, ",") or "none"),
    e.connect, e.read, e.write, e.status, e.timeout,
    count > 0 and bytes / count or 0))
end
