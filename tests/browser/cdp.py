"""cdp — drive headless Chromium over the DevTools protocol on a pipe (no websocket).

Chromium started with --remote-debugging-pipe reads commands from its fd 3 and writes
replies and events to its fd 4, each message one JSON object followed by a NUL byte.
Chrome(...) starts it that way with a private profile directory, attaches to its first
page (one flat session) and offers:

  send(method, **params)      one command on the page; its result (raises CDPError)
  evaluate(expr)              a JS expression's value (promises awaited, JSON-able)
  goto(url)                   navigate and wait for the load event
  wait(expr, secs)            poll a JS expression until it is truthy; its value
  screenshot(path)            a PNG of the viewport
  events                      every event received, in order ({method, params})
  close()                     end Chromium (SIGTERM, then SIGKILL) and reap it

Every read has a deadline, so a hung browser fails the test instead of hanging it.
"""
import json
import os
import select
import signal
import subprocess
import time
import base64
import fcntl


class CDPError(Exception):
    pass


class Chrome:
    def __init__(self, binary, profile, width=1280, height=900, timeout=20):
        self.timeout = timeout
        self.events = []
        self.next_id = 0
        self.buf = b""
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():  # in the child: the pipe ends on fds 3 and 4 (inheritable), as Chromium expects
            a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)  # out of the way of 3 and 4 first
            b = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.setsid()

        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-dev-shm-usage", "--mute-audio",
                "--user-data-dir=" + profile, "--remote-debugging-pipe",
                "--window-size=%d,%d" % (width, height), "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=fds, close_fds=False,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(profile + ".log"), "wb"))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        targets = self.call("Target.getTargets")["targetInfos"]
        pages = [t for t in targets if t["type"] == "page"]
        if not pages:
            pages = [{"targetId": self.call("Target.createTarget", url="about:blank")["targetId"]}]
        self.session = self.call("Target.attachToTarget", targetId=pages[0]["targetId"],
                                 flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(domain + ".enable")

    def _write(self, msg):
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self.to_chrome, data)
            data = data[n:]

    def _read(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("no message from chromium within %ss" % self.timeout)
            r, _, _ = select.select([self.from_chrome], [], [], left)
            if not r:
                continue
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise CDPError("chromium closed its pipe (exited %s)" % self.proc.poll())
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=None, **params):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        self._write(msg)
        deadline = time.monotonic() + self.timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise CDPError("%s: %s" % (method, m["error"].get("message")))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def send(self, method, **params):
        return self.call(method, session=self.session, **params)

    def pump(self, secs):
        """Collect events for secs seconds."""
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.from_chrome], [], [], max(0, deadline - time.monotonic()))
            if r:
                chunk = os.read(self.from_chrome, 1 << 20)
                if not chunk:
                    raise CDPError("chromium closed its pipe (exited %s)" % self.proc.poll())
                self.buf += chunk
                while b"\0" in self.buf:
                    msg, self.buf = self.buf.split(b"\0", 1)
                    m = json.loads(msg)
                    if "method" in m:
                        self.events.append(m)

    def evaluate(self, expr):
        r = self.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CDPError("%s: %s" % (expr[:80], d.get("exception", {}).get("description") or d.get("text")))
        return r["result"].get("value")

    def goto(self, url):
        mark = len(self.events)
        r = self.send("Page.navigate", url=url)
        if r.get("errorText"):
            raise CDPError("cannot load %s: %s" % (url, r["errorText"]))
        deadline = time.monotonic() + self.timeout
        while not any(e["method"] == "Page.loadEventFired" for e in self.events[mark:]):
            if time.monotonic() > deadline:
                raise CDPError("%s did not load within %ss" % (url, self.timeout))
            self.pump(0.05)

    def wait(self, expr, secs=None):
        deadline = time.monotonic() + (secs or self.timeout)
        while True:
            v = self.evaluate(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise CDPError("timed out after %ss waiting for: %s" % (secs or self.timeout, expr))
            self.pump(0.1)

    def screenshot(self, path):
        r = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for fd in (self.to_chrome, self.from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
