"""Abuse checks against a release binary: the figures of the abuse-resistance
work, before and after (`python3 benches/abuse_check.py target/release/posts-api`).

Starts the binary on free ports (memory store) and prints, for each defence,
what a hostile client sees: concurrent wrong logins against the throttle
(cost 12), the last admin demoting itself, a JSON body repeating a key,
tokens with no, unknown or empty `kid`, CORS preflights for TRACE and
CONNECT, resident memory after logins with 0.9 MB usernames, and settings
out of range at start-up. Loopback only; every loop is bounded.
"""
import base64, hashlib, hmac, json, os, socket, subprocess, sys, threading, time, urllib.request, urllib.error
BIN = sys.argv[1]
SECRET = "measure-secret-0123456789abcdef-0123456789"

def start(env_extra=None, cost="12"):
    env = {"BIND_ADDR": "127.0.0.1:0", "BCRYPT_COST": cost, "RUST_LOG": "info", "NO_COLOR": "1",
           "JWT_SECRET": SECRET, "ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "admin-password-1",
           "PATH": os.environ["PATH"]}
    env.update(env_extra or {})
    p = subprocess.Popen([BIN], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    for line in p.stdout:
        if "listening on http://" in line:
            addr = line.split("listening on http://")[1].split()[0]
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            return p, "http://" + addr
        if time.time() > deadline: break
    p.kill(); return p, None

def req(base, method, path, body=None, headers=None, form=None):
    data = None; h = dict(headers or {})
    if body is not None: data = body.encode() if isinstance(body, str) else body; h.setdefault("Content-Type", "application/json")
    if form is not None: data = form.encode(); h["Content-Type"] = "application/x-www-form-urlencoded"
    r = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=60) as resp: return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as e: return e.code, e.read().decode(), dict(e.headers)

def login(base, email, pw):
    return req(base, "POST", "/login", form=f"username={email}&password={pw}")

def par(n, f):
    out = [None]*n
    ts = [threading.Thread(target=lambda i=i: out.__setitem__(i, f(i))) for i in range(n)]
    [t.start() for t in ts]; [t.join() for t in ts]; return out

p, base = start()
print("binary", BIN)
# 1. throttle under concurrency (cost 12)
req(base, "POST", "/users", json.dumps({"email": "victim@example.com", "password": "right-password"}))
r = par(30, lambda i: login(base, "victim@example.com", "wrong-password")[0])
print("1a. 30 parallel wrong logins, one email:", {s: r.count(s) for s in set(r)})
r = par(90, lambda i: login(base, f"u{i}@example.com", "wrong-password")[0])
print("1b. 90 parallel wrong logins, different emails:", {s: r.count(s) for s in set(r)})
p.kill(); p.wait()

p, base = start(cost="4")
s, b, _ = login(base, "admin@example.com", "admin-password-1"); tok = json.loads(b)["access_token"]
A = {"Authorization": "Bearer " + tok}
# 5. last admin
me = json.loads(req(base, "GET", "/profile", headers=A)[1])["user"]["id"]
print("5. admin demotes itself (only admin):", req(base, "PATCH", f"/users/{me}/role", json.dumps({"role": "user"}), A)[:2])
# re-login as admin may fail after demotion; start fresh
p.kill(); p.wait()
p, base = start(cost="4")
s, b, _ = login(base, "admin@example.com", "admin-password-1"); tok = json.loads(b)["access_token"]; A = {"Authorization": "Bearer " + tok}
# 6. duplicate keys
print("6. POST /posts with published twice:", req(base, "POST", "/posts", '{"title":"t","content":"c","published":true,"published":false}', A)[:2])
# 7. kid
hdr, pay, sig = tok.split(".")
def b64(x): return base64.urlsafe_b64encode(x).rstrip(b"=").decode()
def sign(header):
    h = b64(json.dumps(header).encode()); m = f"{h}.{pay}"
    return m + "." + b64(hmac.new(SECRET.encode(), m.encode(), hashlib.sha256).digest())
for label, header in [("no kid", {"alg": "HS256", "typ": "JWT"}), ("unknown kid", {"alg": "HS256", "typ": "JWT", "kid": "nope"}), ("empty kid", {"alg": "HS256", "typ": "JWT", "kid": ""})]:
    print(f"7. token with {label}:", req(base, "GET", "/profile", headers={"Authorization": "Bearer " + sign(header)})[0])
# 8. CORS
for m in ["TRACE", "CONNECT"]:
    s, b, h = req(base, "OPTIONS", "/posts", headers={"Origin": "http://x.example", "Access-Control-Request-Method": m})
    print(f"8. preflight {m}:", s, h.get("access-control-allow-methods") or h.get("Access-Control-Allow-Methods"))
# 3. RSS under 0.9 MB usernames
def rss(pid): return int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1])
login(base, "w" * 900000, "x")
before = rss(p.pid)
for i in range(45): login(base, f"{i}" + "u" * 900000, "x")
print("3. RSS growth after 45 logins with 0.9 MB usernames: %d KiB" % (rss(p.pid) - before))
p.kill(); p.wait()
# 9. settings out of range
for env in [{"LOGIN_WINDOW_SECONDS": "300000000000"}, {"JWT_SECRET": "x"}]:
    pp = subprocess.Popen([BIN], env={"BIND_ADDR": "127.0.0.1:0", "BCRYPT_COST": "4", "PATH": os.environ["PATH"], "JWT_SECRET": SECRET, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = pp.communicate(timeout=3)
        print("9.", env, "-> exited", pp.returncode, err.strip().splitlines()[-1][:160] if err.strip() else "")
    except subprocess.TimeoutExpired:
        pp.kill(); pp.wait(); print("9.", env, "-> started (still running after 3 s)")
