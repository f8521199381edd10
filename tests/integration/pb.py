"""Helpers for the integration tests (Python 3 standard library only).

script/test exports where the stack runs; the defaults match it:
PB_URL (http://127.0.0.1:18080), PB_ROOT, PB_VAR (var/test),
PB_BIN (build/plugboard), PB_CONFIG ($PB_VAR/plugboard.ini).
"""

import http.client
import json
import os
import re
import subprocess
import time
import urllib.parse

ROOT = os.environ.get(
    "PB_ROOT",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
URL = os.environ.get("PB_URL", "http://127.0.0.1:18080").rstrip("/")
VAR = os.environ.get("PB_VAR", os.path.join(ROOT, "var", "test"))
BIN = os.environ.get("PB_BIN", os.path.join(ROOT, "build", "plugboard"))
CONFIG = os.environ.get("PB_CONFIG", os.path.join(VAR, "plugboard.ini"))


def _split(url):
    parts = urllib.parse.urlsplit(url)
    return parts.hostname, parts.port or 80


def request(method, path, headers=None, body=None, timeout=10):
    """Send one request to PB_URL + path; never follows redirects.

    body may be bytes, str (sent as UTF-8), or a dict/list (sent as JSON with
    Content-Type: application/json unless headers say otherwise).
    Returns (status, headers, body): headers is a dict with lower-cased
    names; repeated headers are joined with ", ", except Set-Cookie, whose
    values are joined with "\\n" (cookies may contain commas).
    """
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    elif isinstance(body, str):
        body = body.encode()
    host, port = _split(URL)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        merged = {}
        for name, value in resp.getheaders():
            name = name.lower()
            if name in merged:
                sep = "\n" if name == "set-cookie" else ", "
                merged[name] = merged[name] + sep + value
            else:
                merged[name] = value
        return resp.status, merged, data
    finally:
        conn.close()


def get_json(path, headers=None, expect=200):
    """GET path with Accept: application/json and return the decoded body.

    Raises AssertionError (with the body's start) when the status is not
    `expect` or the body is not JSON.
    """
    hdrs = {"Accept": "application/json"}
    hdrs.update(headers or {})
    status, _, body = request("GET", path, headers=hdrs)
    if status != expect:
        raise AssertionError(
            f"GET {path}: status {status}, expected {expect}: {body[:300]!r}")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise AssertionError(f"GET {path}: not JSON ({exc}): {body[:300]!r}")


def wait_until(fn, timeout=10.0, interval=0.1, message=None):
    """Call fn until it returns something truthy, and return that.

    Exceptions from fn count as "not yet" (e.g. connection refused while a
    service restarts). Raises TimeoutError after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = fn()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last_error = exc
        if time.monotonic() >= deadline:
            what = message or getattr(fn, "__name__", "condition")
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"{what} not true after {timeout}s{detail}")
        time.sleep(interval)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text):
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else None


def run_wrk(url, seconds, connections, threads=None, script=None, timeout=None):
    """Run wrk against url (a full URL, or a path on PB_URL) and parse it.

    Returns a dict: requests, non_2xx (wrk counts responses that are not 2xx
    or 3xx), socket_errors (sum) and socket_error_kinds (connect, read,
    write, timeout), rps, latency_ms ({"50": ..., "99": ...}) and output.
    """
    if url.startswith("/"):
        url = URL + url
    threads = threads or max(1, min(2, connections))
    cmd = ["wrk", "-t", str(threads), "-c", str(connections),
           "-d", f"{seconds}s", "--latency"]
    if timeout is not None:
        cmd += ["--timeout", f"{timeout}s"]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=seconds + 60, check=False)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited {proc.returncode}: {out}")

    def number(pattern, cast=int, default=0):
        match = re.search(pattern, out)
        return cast(match.group(1)) if match else default

    kinds = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                      r"timeout (\d+)", out)
    if match:
        kinds = dict(zip(kinds, map(int, match.groups())))
    latency = {}
    for pct, value in re.findall(r"^\s+(\d+(?:\.\d+)?)%\s+(\S+)\s*$", out, re.M):
        ms = _ms(value)
        if ms is not None:
            latency[pct.rstrip("0").rstrip(".") if "." in pct else pct] = ms
    return {
        "requests": number(r"(\d+) requests in"),
        "non_2xx": number(r"Non-2xx or 3xx responses: (\d+)"),
        "socket_errors": sum(kinds.values()),
        "socket_error_kinds": kinds,
        "rps": number(r"Requests/sec:\s+([\d.]+)", float, 0.0),
        "latency_ms": latency,
        "output": out,
    }


# ---------------------------------------------------------------------------
# FastCGI straight to a plugboard socket, and a second master to test on.

import signal
import socket
import struct
import tempfile
import time


def fcgi_request(sock_path, path, method="GET", body=b"", headers=None, timeout=10):
    """One FastCGI request (FCGI_RESPONDER, no keep-alive) to a Unix socket.

    Returns (status, headers dict, body). Raises ConnectionRefusedError or
    FileNotFoundError when the socket does not take the connection, and
    ConnectionError when it was taken but no complete response came back.
    """
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        def record(rtype, content):
            return struct.pack(">BBHHBx", 1, rtype, 1, len(content), 0) + content

        def pair(k, v):
            k, v = k.encode(), v.encode()
            def ln(x):
                return struct.pack(">B", len(x)) if len(x) < 128 else struct.pack(">I", len(x) | 0x80000000)
            return ln(k) + ln(v) + k + v

        query = path.split("?", 1)[1] if "?" in path else ""
        env = {"REQUEST_METHOD": method, "REQUEST_URI": path, "QUERY_STRING": query,
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "CONTENT_LENGTH": str(len(body))}
        for k, v in (headers or {}).items():
            name = k.upper().replace("-", "_")
            env[name if name == "CONTENT_TYPE" else "HTTP_" + name] = v
        params = b"".join(pair(k, v) for k, v in env.items())
        out = record(1, struct.pack(">HB5x", 1, 0))  # BEGIN_REQUEST, responder
        out += record(4, params) + record(4, b"")
        for i in range(0, len(body), 65535):
            out += record(5, body[i:i + 65535])
        out += record(5, b"")
        s.sendall(out)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    stdout, ended, i = b"", False, 0
    while i + 8 <= len(data):
        _, rtype, _, clen, plen = struct.unpack(">BBHHB", data[i:i + 7])
        content = data[i + 8:i + 8 + clen]
        if rtype == 6:
            stdout += content
        elif rtype == 3:
            ended = True
        i += 8 + clen + plen
    if not ended:
        raise ConnectionError("connection closed before FCGI_END_REQUEST")
    head, _, resp_body = stdout.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.decode("latin-1").split("\r\n"):
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    status = int(hdrs.get("status", "200").split()[0])
    return status, hdrs, resp_body


class Master:
    """A second plugboard master on its own sockets (same database and
    Redis), for tests that stop, crash or reconfigure a master."""

    def __init__(self, **overrides):
        self.dir = tempfile.mkdtemp(prefix="pbm", dir=os.path.join(VAR, "tmp"))
        self.socket = os.path.join(self.dir, "pb.sock")
        self.config = os.path.join(self.dir, "plugboard.ini")
        self.log = os.path.join(self.dir, "master.log")
        text = open(CONFIG).read()
        repl = {"socket": self.socket, "control_socket": os.path.join(self.dir, "pb.ctl"),
                "pidfile": os.path.join(self.dir, "pb.pid"), "socket_group": ""}
        repl.update({k: str(v) for k, v in overrides.items()})
        self.socket = repl["socket"]  # a test may put it where nginx reaches it
        lines, section = [], ""
        for line in text.splitlines():
            if line.startswith("["):
                section = line.strip()
            key = line.split("=", 1)[0].strip()
            dotted = f"{section.strip('[]')}.{key}"
            if "=" in line and dotted in repl:  # "section.key" overrides any section
                line = f"{key} = {repl.pop(dotted)}"
            elif section == "[server]" and "=" in line and key in repl:
                line = f"{key} = {repl[key]}"
            lines.append(line)
        for dotted, value in repl.items():  # keys the file lacks: their section again
            if "." in dotted:
                section, key = dotted.split(".", 1)
                lines += [f"[{section}]", f"{key} = {value}"]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    def start(self):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([BIN, "-c", self.config], stdout=self.logf,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_until(lambda: self._healthy(), timeout=15, message="second master never served")
        except Exception:
            self.stop()
            raise
        return self

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError("master exited: " + self.log_text())
        try:
            return fcgi_request(self.socket, "/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def ctl_status(self):
        out = subprocess.run([BIN, "-c", self.config, "ctl", "status", "--json"],
                             capture_output=True, text=True, timeout=10, check=True)
        return json.loads(out.stdout)

    def ctl(self, *args, timeout=120):
        """Runs `plugboard ctl ARGS...` on this master; returns the
        CompletedProcess."""
        return subprocess.run([BIN, "-c", self.config, "ctl", *args], capture_output=True,
                              text=True, timeout=timeout)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        return self.proc.returncode if self.proc else None


# --- Mail --------------------------------------------------------------------
# The stack's SMTP sink (script/lib.sh pb_smtp_start) keeps every message it
# receives in a Maildir.

MAILDIR = os.environ.get("PB_MAILDIR", os.path.join(VAR, "mail"))


def mailbox():
    """Every message the SMTP sink has received, as email.message.Message
    objects, oldest first."""
    import mailbox as _mailbox
    if not os.path.isdir(os.path.join(MAILDIR, "new")):
        return []
    box = _mailbox.Maildir(MAILDIR, create=False)
    messages = [box.get_message(key) for key in box.keys()]
    return sorted(messages, key=lambda m: m.get_date() or 0)


def mail_body(message):
    """The text of a plain-text message, decoded."""
    payload = message.get_payload(decode=True)
    return payload.decode(message.get_content_charset() or "utf-8")


def wait_for_mail(to, subject_contains="", timeout=15.0):
    """Waits for a message to `to` whose subject contains the text; returns
    the newest such message."""
    def find():
        found = [m for m in mailbox()
                 if to.lower() in m.get("To", "").lower()
                 and subject_contains in str(m.get("Subject", ""))]
        return found[-1] if found else None
    return wait_until(find, timeout=timeout, message=f"no mail to {to} ({subject_contains!r})")


# --- People ------------------------------------------------------------------

def psql(sql, *args, db="plugboard"):
    """Runs sql as the owner role (which bypasses row-level security), with
    args as psql variables :'v1', :'v2', ...; returns the rows as lists of
    strings."""
    cmd = ["psql", "-h", os.path.join(VAR, "run", "pg"), "-U", "plugboard_owner", "-d", db,
           "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    for i, a in enumerate(args, 1):
        cmd += ["-v", f"v{i}={a}"]
    out = subprocess.run(cmd, input=sql, check=True, capture_output=True, text=True, timeout=60)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def make_operator(user_id):
    """Makes the user an operator of the installation (as `plugboard
    operator add` would, without the audit row)."""
    psql("INSERT INTO core.operators (user_id) VALUES (:'v1') ON CONFLICT DO NOTHING", user_id)


def make_user(email, password, name="Test User", team=None, level=100, operator=False):
    """Creates a user with a real password through the test module: in a new
    team of their own as its admin, or in `team` with the highest role at or
    below `level`; an operator of the installation too when `operator`.
    Returns {"user_id", "team_id"}."""
    fields = {"email": email, "password": password, "name": name, "level": str(level)}
    if team:
        fields["team"] = team
    status, _, body = request("POST", "/api/v1/test/users",
                              headers={"Content-Type": "application/x-www-form-urlencoded"},
                              body=urllib.parse.urlencode(fields).encode())
    assert status == 200, (status, body[:300])
    made = json.loads(body)
    if operator:
        make_operator(made["user_id"])
    return made


def unique_email(prefix="user"):
    """An address no other test uses."""
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns()}@example.com"


# --- Sign-in and a private nginx ---------------------------------------------

def sign_in(email, password):
    """Signs in through the real /login form (CSRF token included); returns
    the "pb_session=..." cookie pair, or None when sign-in failed."""
    status, headers, body = request("GET", "/login")
    assert status == 200, (status, body[:300])
    pair = re.search(r"pb_session=[^;]*", headers.get("set-cookie", ""))
    token = re.search(r'name="_csrf" value="([^"]+)"', body.decode()).group(1)
    fields = urllib.parse.urlencode({"_csrf": token, "email": email, "password": password})
    status, headers, _ = request(
        "POST", "/login", body=fields.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 **({"Cookie": pair.group(0)} if pair else {})})
    pair = re.search(r"pb_session=[^;]*", headers.get("set-cookie", ""))
    return pair.group(0) if status == 303 and pair else None


def wrk_cookie_script(cookie):
    """A wrk Lua script that sends cookie ("name=value") with every request;
    returns its path (the caller removes it)."""
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False,
                                     dir=os.path.join(VAR, "tmp")) as lua:
        lua.write(f'wrk.headers["Cookie"] = "{cookie}"\n')
    return lua.name


class Nginx:
    """A private nginx in front of a Master: the stack's rendered nginx
    configuration with its own port, prefix and FastCGI socket. Loopback
    only. url is where it listens. nginx's workers (www-data under root)
    must reach the master's socket: give it one in PB_VAR/run."""

    def __init__(self, master, port):
        self.dir = os.path.join(master.dir, "nginx")
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        stack_dir = os.path.join(VAR, "nginx")
        stack_sock = re.search(r"^socket = (.*)$", open(CONFIG).read(), re.M).group(1)
        text = open(os.path.join(stack_dir, "nginx.conf")).read()
        text = text.replace(f"127.0.0.1:{_split(URL)[1]}", f"127.0.0.1:{port}")
        text = text.replace(stack_dir + "/", self.dir + "/")
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(text)
        locs = open(os.path.join(stack_dir, "plugboard-locations.conf")).read()
        with open(os.path.join(self.dir, "plugboard-locations.conf"), "w") as f:
            f.write(locs.replace(f"unix:{stack_sock};", f"unix:{master.socket};"))
        self.url = f"http://127.0.0.1:{port}"

    def _run(self, *args):
        return subprocess.run(["nginx", "-p", self.dir + "/", "-e",
                               os.path.join(self.dir, "error.log"), "-c",
                               os.path.join(self.dir, "nginx.conf"), *args],
                              cwd=self.dir, capture_output=True, text=True, timeout=30)

    def start(self):
        out = self._run()
        assert out.returncode == 0, out.stderr
        return self

    def stop(self):
        self._run("-s", "quit")
        pid_file = os.path.join(self.dir, "nginx.pid")
        wait_until(lambda: not os.path.exists(pid_file), timeout=10,
                   message="the private nginx did not stop")

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""
