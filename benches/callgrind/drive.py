#!/usr/bin/env python3
"""drive.py PORT PATH N [TOKEN]: N keep-alive GETs on one connection; checks 200."""
import http.client, sys
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
headers = {}
if len(sys.argv) > 4 and sys.argv[4]:
    headers["Authorization"] = "Bearer " + sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
bad = 0
for _ in range(n):
    c.request("GET", path, headers=headers)
    r = c.getresponse(); r.read()
    if r.status != 200: bad += 1
c.close()
if bad: print(f"non-200: {bad}", file=sys.stderr); sys.exit(1)
