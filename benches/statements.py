#!/usr/bin/env python3
"""Statements per request on PostgreSQL, for every authenticated route.

Starts a release binary on a scratch database of a server that loads
pg_stat_statements, drives each route (http_load.sh's workloads with wrk,
the other routes here, success and refusal paths), and prints, per route,
the statements the service ran divided by the requests it answered: the
total and each statement. Setup work (logins, registrations) runs between
snapshots of pg_stat_statements and is not counted.

    DATABASE_URL=postgres://postgres@127.0.0.1:54329/postgres \\
        benches/statements.py [--bin target/release/posts-api] [-n 100]

DATABASE_URL: a server started with shared_preload_libraries =
'pg_stat_statements' (pg_stat_statements.track = top); never the shared
server, whose settings are not ours to change. A scratch database is
created and dropped. Goal (issue 12, target 7): at most 2 per request.
"""

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse

def free_port():
    """A loopback port nobody listens on now (another bench may use 8099)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = int(os.environ.get("PORT") or free_port())
JWT = "stmts-bench-secret-0123456789abcdef-0123"
ADMIN = ("admin@example.com", "admin-password")
SEED = ("seed@example.com", "seed-password")


def psql(url, sql):
    out = subprocess.run(["psql", url, "-qAtX", "-F", "\t", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout


class Api:
    """One keep-alive connection to the service."""

    def __init__(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)

    def call(self, method, path, body=None, token=None, form=False):
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            if form:
                body = urllib.parse.urlencode(body)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                body = json.dumps(body)
                headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, (json.loads(data) if data else None)

    def login(self, email, password):
        status, body = self.call("POST", "/login", {"username": email, "password": password}, form=True)
        assert status == 200, (status, body)
        return body["access_token"]

    def register(self, email, password="bench-password"):
        status, body = self.call("POST", "/users", {"email": email, "password": password})
        assert status == 201, (status, body)
        return body["id"]


class Stats:
    """Deltas of pg_stat_statements calls, in the scratch database."""

    def __init__(self, url):
        self.url = url

    def snapshot(self):
        rows = psql(self.url, "SELECT queryid, calls, regexp_replace(query, '\\s+', ' ', 'g') "
                    "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%' "
                    "AND query NOT LIKE '%pg_database%'")
        snap = {}
        for line in rows.splitlines():
            qid, calls, query = line.split("\t", 2)
            snap[qid] = (int(calls), query)
        return snap

    @staticmethod
    def delta(before, after):
        out = {}
        for qid, (calls, query) in after.items():
            d = calls - before.get(qid, (0, ""))[0]
            if d:
                out[query] = out.get(query, 0) + d
        return out


def short(query):
    """A statement's gist: its CTE names or first words."""
    q = re.sub(r"\s+", " ", query)
    ctes = re.findall(r"(?:WITH|,) (\w+) AS \((?:SELECT|UPDATE|DELETE|INSERT)", q)
    head = q[:48]
    return f"{head}..." + (f" [{', '.join(ctes)}]" if ctes else "")


RESULTS = []


def report(name, requests, delta, note=""):
    total = sum(delta.values())
    per = total / requests if requests else float("nan")
    RESULTS.append((name, requests, per, delta, note))
    print(f"| {name:<40} | {requests:>6} | {per:5.2f} |{' ' + note if note else ''}", flush=True)


def measure(stats, name, n, action, expect):
    """Runs `action(i)` n times, each answering `expect`, and reports."""
    before = stats.snapshot()
    for i in range(n):
        status = action(i)
        assert status == expect, f"{name}: {status} != {expect} at {i}"
    time.sleep(0.2)
    report(name, n, Stats.delta(before, stats.snapshot()))


def measure_batches(stats, name, n, batch, prepare, action, expect):
    """As `measure`, with `prepare(k)` run uncounted before each batch of k."""
    total = {}
    done = 0
    while done < n:
        k = min(batch, n - done)
        args = prepare(k)
        before = stats.snapshot()
        for a in args:
            status = action(a)
            assert status == expect, f"{name}: {status} != {expect}"
        time.sleep(0.2)
        for q, c in Stats.delta(before, stats.snapshot()).items():
            total[q] = total.get(q, 0) + c
        done += k
    report(name, n, total)


def wrk(stats, name, token, path, duration, script=None, env=None):
    args = ["wrk", "-t2", "-c8", f"-d{duration}s", "-H", f"Authorization: Bearer {token}"]
    if script:
        args += ["-s", script]
    before = stats.snapshot()
    out = subprocess.run(args + [f"http://127.0.0.1:{PORT}{path}"], capture_output=True,
                         text=True, env={**os.environ, **(env or {})}, check=True).stdout
    time.sleep(0.5)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    report(name, requests, Stats.delta(before, stats.snapshot()),
           f"non-2xx: {non2xx.group(1)}" if non2xx else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"),
                                                  "release", "posts-api"))
    ap.add_argument("-n", type=int, default=100, help="requests per scripted route")
    ap.add_argument("--duration", type=int, default=3, help="seconds per wrk workload")
    ap.add_argument("--detail", action="store_true", help="each statement's calls per request")
    opts = ap.parse_args()
    server = os.environ["DATABASE_URL"]
    if "pg_stat_statements" not in psql(server, "SHOW shared_preload_libraries"):
        sys.exit("DATABASE_URL's server does not load pg_stat_statements")
    db = f"posts_stmts_{os.getpid()}"
    url = server.rsplit("/", 1)[0] + "/" + db
    psql(server, f"CREATE DATABASE {db}")
    proc = None
    try:
        psql(url, "CREATE EXTENSION pg_stat_statements")
        env = {**os.environ, "STORE": "postgres", "DATABASE_URL": url, "JWT_SECRET": JWT,
               "BIND_ADDR": f"127.0.0.1:{PORT}", "RUST_LOG": "warn", "SEED_POSTS": "1",
               "ADMIN_EMAIL": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1], "BCRYPT_COST": "4",
               "DATABASE_POOL_SIZE": "8"}
        proc = subprocess.Popen([opts.bin], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        if proc.poll() is not None:
            sys.exit(f"{opts.bin} exited with {proc.returncode} (port {PORT} taken?)")
        psql(url, "INSERT INTO posts (owner_id, title, title_lower, content, published) "
             "SELECT u.id, 'Seeded post number ' || i, 'seeded post number ' || i, "
             "left(repeat('lorem ipsum ', 17), 200), i % 10 <> 0 FROM generate_series(1, 1999) i, "
             "(SELECT id FROM users WHERE email = 'seed@example.com') u; ANALYZE")
        run(opts, Stats(url))
    finally:
        if proc:
            proc.terminate()
            proc.wait()
        psql(server, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def run(opts, stats):
    api = Api()
    n = opts.n
    seed = api.login(*SEED)
    admin = api.login(*ADMIN)
    other_id = api.register("other@example.com")
    other = api.login("other@example.com", "bench-password")
    print(f"# {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())} {opts.bin}")
    print("| route | requests | statements per request |")
    print("|---|---|---|")
    # http_load.sh's workloads (posts 2..2000 are the seed user's; those
    # whose id ends in 1 are drafts).
    wrk(stats, "GET /posts/{id}", seed, "/posts/500", opts.duration)
    wrk(stats, "GET /posts?limit=10", seed, "/posts?limit=10", opts.duration)
    wrk(stats, "GET /posts?search=", seed, "/posts?search=number%20999", opts.duration)
    wrk(stats, "POST /posts", seed, "/posts", opts.duration, "benches/wrk/post.lua",
        {"WRK_BODY": '{"title": "bench", "content": "a post from the load bench"}'})
    wrk(stats, "POST /vote (add, remove)", seed, "/vote", opts.duration, "benches/wrk/vote.lua",
        {"WRK_POSTS": "1000"})
    # The other routes, one request at a time.
    measure(stats, "GET /users/me", n, lambda i: api.call("GET", "/users/me", token=seed)[0], 200)
    measure(stats, "GET /profile", n, lambda i: api.call("GET", "/profile", token=seed)[0], 200)
    measure(stats, "GET /users/{id}", n, lambda i: api.call("GET", "/users/1", token=seed)[0], 200)
    measure(stats, "GET /users (admin)", n,
            lambda i: api.call("GET", "/users?limit=10", token=admin)[0], 200)
    measure(stats, "GET /users (403)", n,
            lambda i: api.call("GET", "/users?limit=10", token=seed)[0], 403)
    measure(stats, "GET /sessions", n, lambda i: api.call("GET", "/sessions", token=seed)[0], 200)
    post = {"title": "edited", "content": "edited by the statements bench", "published": True}
    measure(stats, "PUT /posts/{id} (owner)", n,
            lambda i: api.call("PUT", f"/posts/{1001 + i}", post, token=seed)[0], 200)
    measure(stats, "PUT /posts/{id} (admin)", n,
            lambda i: api.call("PUT", f"/posts/{1001 + i}", post, token=admin)[0], 200)
    measure(stats, "PUT /posts/{id} (403)", n,
            lambda i: api.call("PUT", "/posts/1002", post, token=other)[0], 403)
    measure(stats, "PUT /posts/{id} (404 draft)", n,
            lambda i: api.call("PUT", "/posts/1991", post, token=other)[0], 404)
    measure(stats, "PUT /posts/{id} (404 missing)", n,
            lambda i: api.call("PUT", "/posts/999999", post, token=seed)[0], 404)
    measure(stats, "DELETE /posts/{id} (403)", n,
            lambda i: api.call("DELETE", "/posts/1002", token=other)[0], 403)
    measure(stats, "DELETE /posts/{id} (owner)", n,
            lambda i: api.call("DELETE", f"/posts/{1001 + i}", token=seed)[0], 204)
    measure(stats, "DELETE /posts/{id} (404)", n,
            lambda i: api.call("DELETE", f"/posts/{1001 + i}", token=seed)[0], 404)
    assert api.call("POST", "/vote", {"post_id": 1600, "dir": 1}, token=seed)[0] == 201
    measure(stats, "POST /vote (409 voted)", n,
            lambda i: api.call("POST", "/vote", {"post_id": 1600, "dir": 1}, token=seed)[0], 409)
    measure(stats, "POST /vote (404 no vote)", n,
            lambda i: api.call("POST", "/vote", {"post_id": 1500, "dir": 0}, token=seed)[0], 404)
    measure(stats, "POST /vote (404 draft)", n,
            lambda i: api.call("POST", "/vote", {"post_id": 1991, "dir": 1}, token=other)[0], 404)
    measure(stats, "PATCH /users/{id}/role", n,
            lambda i: api.call("PATCH", f"/users/{other_id}/role",
                               {"role": "admin" if i % 2 == 0 else "user"}, token=admin)[0], 200)
    measure(stats, "PATCH /users/{id}/role (409 last)", n,
            lambda i: api.call("PATCH", "/users/1/role", {"role": "user"}, token=admin)[0], 409)
    measure(stats, "DELETE /users/{id}/sessions", n,
            lambda i: api.call("DELETE", f"/users/{other_id}/sessions", token=admin)[0], 204)
    other = api.login("other@example.com", "bench-password")
    measure(stats, "PUT /users/me/password", n,
            lambda i: api.call("PUT", "/users/me/password",
                               {"current_password": "bench-password" if i % 2 == 0 else "bench-password-2",
                                "new_password": "bench-password-2" if i % 2 == 0 else "bench-password"},
                               token=other)[0], 204)
    measure_batches(stats, "DELETE /sessions/{id}", n, 50,
                    lambda k: [s["id"] for s in sessions_after_logins(api, seed, k)],
                    lambda sid: api.call("DELETE", f"/sessions/{sid}", token=seed)[0], 204)
    measure_batches(stats, "POST /logout", n, 50,
                    lambda k: [api.login(*SEED) for _ in range(k)],
                    lambda tok: api.call("POST", "/logout", token=tok)[0], 204)
    counter = iter(range(10**6))

    def fresh_users(k):
        out = []
        for _ in range(k):
            email = f"u{next(counter)}@example.com"
            uid = api.register(email)
            out.append((uid, api.login(email, "bench-password")))
        return out

    measure_batches(stats, "POST /logout/all", n, 50, fresh_users,
                    lambda u: api.call("POST", "/logout/all", token=u[1])[0], 204)
    measure_batches(stats, "DELETE /users/{id} (admin)", n, 50, fresh_users,
                    lambda u: api.call("DELETE", f"/users/{u[0]}", token=admin)[0], 204)
    measure_batches(stats, "DELETE /users/{id} (self)", n, 50, fresh_users,
                    lambda u: api.call("DELETE", f"/users/{u[0]}", token=u[1])[0], 204)
    # Logins (not authenticated; the same throttle as the password change):
    # a success, then wrong passwords, last, as they count towards the
    # address's limit (50 in the window: at most 45 here, 5 per email).
    measure(stats, "POST /login", n,
            lambda i: api.call("POST", "/login", {"username": SEED[0], "password": SEED[1]},
                               form=True)[0], 200)
    measure(stats, "POST /login (401)", min(n, 45),
            lambda i: api.call("POST", "/login", {"username": f"nobody{i % 9}@example.com",
                                                  "password": "wrong"}, form=True)[0], 401)
    if opts.detail:
        print()
        print("| route | statement | calls per request |")
        print("|---|---|---|")
        for name, requests, _, delta, _ in RESULTS:
            for query, calls in sorted(delta.items(), key=lambda kv: -kv[1]):
                print(f"| {name} | `{short(query)}` | {calls / requests:.2f} |")


def sessions_after_logins(api, token, k):
    """Logs the seed user in k more times; their sessions but `token`'s."""
    for _ in range(k):
        api.login(*SEED)
    status, sessions = api.call("GET", "/sessions", token=token)
    assert status == 200
    return [s for s in sessions if not s["current"]][:k]


if __name__ == "__main__":
    main()
