-- wrk script: POST /accounts/ajax_login/ with a seeded user's credentials (the same argon2 check
-- as the login form, without its CSRF token). Users rotate over user1..user$BENCH_USERS so the
-- per-username throttle and rows are spread as with real people.
local users = tonumber(os.getenv("BENCH_USERS") or "50")
local n = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

request = function()
    n = n + 1
    local body = "username=user" .. ((n % users) + 1) .. "&password=bench-password-1"
    return wrk.format(nil, nil, nil, body)
end
