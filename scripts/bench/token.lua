-- wrk script: POST /oauth/token with a client-credentials form body.
-- Client authentication (HTTP Basic) is passed by scripts/bench.sh with
-- -H "Authorization: Basic ..." so that the same script loads the token
-- floor (which ignores it) and the real endpoint (which checks it).
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
