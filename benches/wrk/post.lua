-- POST with a JSON body: WRK_BODY is the body, the token comes from the
-- Authorization header given on the command line.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE") or "application/json"
