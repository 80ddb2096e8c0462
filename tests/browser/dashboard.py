"""dashboard.py — the dashboard's pages in headless Chromium against a live daemon.

usage: dashboard.py URL DATA CTL CHROMIUM OUTDIR DONE LIVE

URL is the daemon's --http address (http://127.0.0.1:PORT/), DATA its data directory
(the database is read with sqlite3, read-only), CTL the control helper (tests/ctl).
DONE is a pipeline that succeeded, LIVE one whose grpo stage 'zero' is running (many
steps) beside an eval stage 'eval_base' of thousands of prompts; LIVE's 'eval_zero' is
from zero and needs eval_base. Both pipelines' zero read prompts that contain
"<script>alert(1)</script>". test_dashboard.sh sets this up.

Checks, in one page load (hash navigation only) while LIVE runs: the pipeline page's
stage graph has the from and needs edges and shows zero's step advancing; the stage
page's curves gain points. Then LIVE is paused through the control socket and the page
shows it from the event stream (an event of type pipeline_paused arrives as a
server-sent event). With the numbers still, every curve of zero has exactly the steps
the database has; the samples browser shows each sample's prompt and completion exactly
as the samples op gives them (the <script> prompt as text, no element made from it, a
completion's invalid UTF-8 as U+FFFD), pages through eval_base's thousands of samples
and switches steps; the eval table, the workers, pipelines and compare pages show what
the ops say. No script error, no CSP violation, no dialog (alert) anywhere.
Screenshots go to OUTDIR.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Chrome  # noqa: E402

URL, DATA, CTL, CHROMIUM, OUT = sys.argv[1:6]
DONE, LIVE = int(sys.argv[6]), int(sys.argv[7])
SCRIPT = "<script>alert(1)</script>"
shots = []


def fail(msg):
    raise SystemExit("FAIL: " + msg)


T0 = time.monotonic()


def log(msg):
    print("# %5.1fs %s" % (time.monotonic() - T0, msg), flush=True)


def ctl(req):
    p = subprocess.run([CTL, DATA, json.dumps(req)], capture_output=True, timeout=30)
    if p.returncode != 0:
        fail("ctl %s: %s %s" % (req, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")))
    return json.loads(p.stdout)


def sql(q, *args):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(DATA, "r1flow.db"), uri=True, timeout=5)
    try:
        return db.execute(q, args).fetchall()
    finally:
        db.close()


def stage_id(pipeline, name):
    return sql("SELECT id FROM stages WHERE pipeline = ? AND name = ?", pipeline, name)[0][0]


def db_curves(pipeline, name):
    """{metric: (points, last step)} of a stage, from the database."""
    rows = sql("SELECT name, count(*), max(step) FROM metrics WHERE stage = ? GROUP BY name",
               stage_id(pipeline, name))
    return {n: (c, m) for n, c, m in rows}


def until(what, fn, secs=30):
    deadline = time.monotonic() + secs
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("timed out after %ss waiting for %s" % (secs, what))
        time.sleep(0.1)


def show(c, hash_):
    """Go to a page by its fragment (no reload) and wait until it is drawn."""
    c.evaluate("document.getElementById('main').dataset.ready = ''; location.hash = %s; 1" % json.dumps(hash_))
    c.wait("document.getElementById('main').dataset.ready === '1'", 20)
    err = c.evaluate("(document.getElementById('error') || {}).textContent || ''")
    if err:
        fail("%s shows an error: %s" % (hash_, err))


def shot(c, name):
    path = os.path.join(OUT, name + ".png")
    c.screenshot(path)
    shots.append("%s (%d bytes)" % (name + ".png", os.path.getsize(path)))


def js(c, expr):
    return c.evaluate("(() => { %s })()" % expr)


def check_samples_page(c, samples, where):
    """The articles shown are samples[offset:offset+shown], prompt and completion exact."""
    got = js(c, """const l = document.getElementById('samples-list');
        return {offset: +l.dataset.offset, shown: +l.dataset.shown, items: [...l.querySelectorAll('article.sample')].map(a => ({
            idx: +a.dataset.idx, step: +a.dataset.step,
            prompt: (a.querySelector('pre.prompt') || {}).textContent,
            answer: (a.querySelector('pre.answer') || {}).textContent,
            text: a.querySelector('pre.completion').textContent,
            finish: a.querySelector('.finish').textContent,
            rewards: Object.fromEntries([...a.querySelectorAll('dd.reward')].map(d => [d.dataset.name, d.textContent]))}))};""")
    want = samples[got["offset"]:got["offset"] + got["shown"]]
    if len(got["items"]) != len(want) or not want:
        fail("%s: %d samples shown at offset %d, expected %d" % (where, len(got["items"]), got["offset"], len(want)))
    for g, s in zip(got["items"], want):
        for k in ("idx", "step", "prompt", "answer", "text", "finish"):
            if g.get(k) != s.get(k):
                fail("%s: sample %s's %s is %r on the page, %r from the samples op" % (where, s["idx"], k, g.get(k), s.get(k)))
        if sorted(g["rewards"]) != sorted(s["rewards"]):
            fail("%s: sample %s shows rewards %s, the op has %s" % (where, s["idx"], sorted(g["rewards"]), sorted(s["rewards"])))
        for k, v in s["rewards"].items():
            if abs(float(g["rewards"][k]) - v) > 1e-3 * max(1, abs(v)):
                fail("%s: sample %s's reward %s is %s on the page, %s from the op" % (where, s["idx"], k, g["rewards"][k], v))
    return got


def run(c):
    c.goto(URL)
    c.wait("document.getElementById('main').dataset.ready === '1'", 20)
    c.evaluate("window.__loaded = 'once'; 1")

    # --- live: zero's step advances on the pipeline page without a reload
    until("zero of pipeline %d to be running" % LIVE, lambda: any(
        s["name"] == "zero" and s["state"] == "running" and s["step"] >= 1
        for s in ctl({"op": "pipeline", "id": LIVE})["stages"]))
    show(c, "#/p/%d" % LIVE)
    node = "document.querySelector('#stage-graph g.node[data-stage=\"zero\"]')"
    step0 = int(c.evaluate(node + ".dataset.step"))
    edges = js(c, "return [...document.querySelectorAll('#stage-graph path.edge')].map(e => e.dataset.from + '>' + e.dataset.to + ' ' + e.dataset.kind).sort();")
    if edges != ["base>eval_base from", "base>zero from", "eval_base>eval_zero needs", "zero>eval_zero from"]:
        fail("the stage graph's edges are %s" % edges)
    c.wait("+%s.dataset.step > %d" % (node, step0), 30)
    step1 = int(c.evaluate(node + ".dataset.step"))
    same = js(c, """const g = document.querySelector('#stage-graph g.node[data-stage="zero"]');
        const t = document.querySelector('#stages tr[data-stage="zero"] .progress-text').textContent;
        return t === g.dataset.step + '/' + g.dataset.total + ' steps';""")
    if not same:
        fail("the stage table's progress and the graph's differ")
    if c.evaluate("window.__loaded") != "once" or c.evaluate("performance.getEntriesByType('navigation').length") != 1:
        fail("the page was reloaded")
    log("pipeline page: zero went from step %d to %d without a reload" % (step0, step1))

    # --- live: the stage page's curves gain points
    show(c, "#/p/%d/s/zero" % LIVE)
    fig = "document.querySelector('figure.chart[data-metric=\"reward_mean\"]')"
    n0 = int(c.evaluate(fig + ".dataset.steps"))
    c.wait("+%s.dataset.steps > %d" % (fig, n0), 30)
    n1 = int(c.evaluate(fig + ".dataset.steps"))
    log("stage page: reward_mean went from %d to %d points without a reload" % (n0, n1))
    shot(c, "stage-live")

    # --- pause: the event stream tells the page
    show(c, "#/p/%d" % LIVE)
    c.wait("document.getElementById('main').dataset.stream === 'open'", 10)
    if ctl({"op": "pipeline_pause", "id": LIVE})["state"] != "paused":
        fail("pipeline %d did not pause" % LIVE)
    c.wait("document.querySelector('#events li[data-source=\"stream\"][data-type=\"pipeline_paused\"]') !== null", 15)
    c.wait("document.getElementById('pipeline-state').dataset.state === 'paused'", 10)
    log("pause: pipeline_paused came as a server-sent event; the page says paused")
    shot(c, "pipeline")

    # the last step in flight may still land: wait until the database stands still
    def still():
        a = db_curves(LIVE, "zero")
        time.sleep(0.5)
        return a if a == db_curves(LIVE, "zero") else None
    curves = until("zero's metrics to stop changing", still, 20)

    # --- every curve has exactly the steps the database has
    show(c, "#/p/%d/s/zero" % LIVE)
    figs = js(c, """return Object.fromEntries([...document.querySelectorAll('#charts figure.chart')].map(f =>
        [f.dataset.metric, [+f.dataset.steps, +f.dataset.lastStep, f.querySelectorAll('g.series circle').length,
         (f.querySelector('g.series polyline') || {getAttribute: () => ''}).getAttribute('points').split(' ').filter(Boolean).length]]));""")
    if sorted(figs) != sorted(curves):
        fail("the stage page charts %s; the database has %s" % (sorted(figs), sorted(curves)))
    for m, (n, last) in curves.items():
        steps, flast, dots, line = figs[m]
        if steps != n or flast != last:
            fail("chart %s has %d points up to step %d; the database has %d up to %d" % (m, steps, flast, n, last))
        if line != n and dots != n:
            fail("chart %s draws %d line points and %d dots for %d steps" % (m, line, dots, n))
    want = ["reward_mean", "reward_acc_mean", "reward_len_mean", "accuracy", "length_mean", "length_max",
            "kl", "entropy", "clip_frac", "grad_norm", "lr", "tokens_per_s", "step_time"]
    missing = [m for m in want if m not in figs]
    if missing:
        fail("no chart of %s" % missing)
    log("stage page: %d charts, each with the database's %d steps" % (len(figs), curves["reward_mean"][0]))

    # --- samples: exact text, <script> as text, invalid UTF-8 as U+FFFD, paging, steps
    op = ctl({"op": "samples", "id": LIVE, "stage": "zero"})
    samples = op["samples"]
    c.wait("document.getElementById('samples-list').dataset.step === '%d'" % op["step"], 10)
    if len(samples) != 32:
        fail("zero's step %d has %d samples, expected 32 (8 prompts x 4)" % (op["step"], len(samples)))
    if not all(SCRIPT in s["prompt"] for s in samples):
        fail("a prompt lacks the planted %s" % SCRIPT)
    got = check_samples_page(c, samples, "zero step %d page 1" % op["step"])
    c.evaluate("document.getElementById('samples-next').click(); 1")
    got2 = check_samples_page(c, samples, "zero step %d page 2" % op["step"])
    if got2["offset"] != got["shown"] or got["offset"] != 0 or got2["offset"] + got2["shown"] != 32:
        fail("next went from offset %d to %d, not to the rest of 32" % (got["offset"], got2["offset"]))
    # no element made of sample text, and no script but the page's own two
    bad = js(c, """return document.querySelectorAll('#samples-list script, #samples-list img, #samples-list pre *').length +
        [...document.scripts].filter((s) => !/^\\/static\\/(lib|app)\\.js$/.test(new URL(s.src || 'x:', location.href).pathname)).length;""")
    if bad:
        fail("the samples made %d elements out of text" % bad)
    shot(c, "stage")
    js(c, "const s = document.getElementById('sample-step'); s.value = '1'; s.dispatchEvent(new Event('change')); return 1;")
    c.wait("document.getElementById('samples-list').dataset.step === '1'", 10)
    first = ctl({"op": "samples", "id": LIVE, "stage": "zero", "step": 1})["samples"]
    check_samples_page(c, first, "zero step 1 page 1")
    c.evaluate("document.getElementById('samples-next').click(); 1")
    check_samples_page(c, first, "zero step 1 page 2")
    # every sample of both steps was shown and compared exactly: one of them at least
    # holds what the daemon made of an untrained model's invalid UTF-8
    bad = sum("\ufffd" in x["text"] for x in samples + first)
    if not bad:
        fail("no completion of steps 1 and %d holds U+FFFD (an untrained model's invalid UTF-8)" % op["step"])
    log("samples: steps %d and 1, 32 samples each on 2 pages, exactly as the op gives them (prompts with %s "
        "as text, %d completions with U+FFFD)" % (op["step"], SCRIPT, bad))

    # --- an eval stage: thousands of samples paged, and its eval table
    show(c, "#/p/%d/s/eval_base" % LIVE)
    big = ctl({"op": "samples", "id": LIVE, "stage": "eval_base", "step": 0, "limit": 100000})["samples"]
    nb = sql("SELECT count(*) FROM samples WHERE stage = ? AND step = 0", stage_id(LIVE, "eval_base"))[0][0]
    c.wait("document.getElementById('samples-list').dataset.step === '0'", 10)
    count = int(c.evaluate("document.getElementById('samples-range').dataset.count"))
    if not (count == nb == len(big) >= 1000):
        fail("eval_base: the page counts %d samples, the database %d, the op %d (expected >= 1000)" % (count, nb, len(big)))
    for _ in range(3):
        c.evaluate("document.getElementById('samples-next').click(); 1")
    if check_samples_page(c, big, "eval_base page 4")["offset"] != 60:
        fail("three clicks on next did not show samples 60..79")
    js(c, "const s = document.getElementById('samples-page-size'); s.value = '100'; s.dispatchEvent(new Event('change')); return 1;")
    for _ in range(nb // 100 + 2):
        if c.evaluate("document.getElementById('samples-next').disabled"):
            break
        c.evaluate("document.getElementById('samples-next').click(); 1")
    last = check_samples_page(c, big, "eval_base last page")
    if last["offset"] + last["shown"] != nb:
        fail("the last page ends at %d of %d" % (last["offset"] + last["shown"], nb))
    rep = [r for r in ctl({"op": "report", "id": LIVE})["rows"] if r["stage"] == "eval_base"][0]
    cells = js(c, """return Object.fromEntries([...document.querySelectorAll('#eval-table td[data-stage="eval_base"]')]
        .map(td => [td.dataset.metric, td.textContent]));""")
    if sorted(cells) != sorted(rep["metrics"]):
        fail("the eval table has %s, the report %s" % (sorted(cells), sorted(rep["metrics"])))
    for k, v in rep["metrics"].items():
        if abs(float(cells[k]) - v) > 1e-3 * max(1, abs(v)):
            fail("eval table: %s is %s, the report says %s" % (k, cells[k], v))
    log("eval_base: %d samples paged to the last (%d..%d); its eval table matches the report (%d metrics)"
        % (nb, last["offset"], nb - 1, len(cells)))
    # the screenshot at 10 a page: a page of 100 samples is a tall image and slow to take
    js(c, "const s = document.getElementById('samples-page-size'); s.value = '10'; s.dispatchEvent(new Event('change')); return 1;")
    shot(c, "eval")

    # --- workers
    show(c, "#/workers")
    ws = ctl({"op": "workers"})["workers"]
    rows = js(c, """return [...document.querySelectorAll('#workers tbody tr[data-worker]')].map(r =>
        [r.dataset.worker, r.cells[1].textContent, r.cells[2].textContent, r.querySelector('.threads').textContent,
         r.querySelector('.quarantined').textContent]);""")
    # the worker was started with --threads 1: the op says so and the page shows it
    if sorted(rows) != sorted([w["name"], w["host"], str(w["pid"]), str(w.get("threads")), "no"] for w in ws) \
            or not rows or any(w.get("threads") != 1 for w in ws):
        fail("the workers page shows %s; the workers op %s" % (rows, ws))
    log("workers: %s" % rows)
    shot(c, "workers")

    # --- pipelines
    show(c, "#/")
    rows = js(c, """return Object.fromEntries([...document.querySelectorAll('#pipelines tbody tr[data-id]')].map(r =>
        [r.dataset.id, [r.dataset.state, r.querySelector('.seed').textContent]]));""")
    for pid in (DONE, LIVE):
        p = ctl({"op": "pipeline", "id": pid})["pipeline"]
        if rows.get(str(pid)) != [p["state"], str(p["seed"])]:
            fail("the pipelines page shows %s for %d; the op says %s, seed %s" % (rows.get(str(pid)), pid, p["state"], p["seed"]))
    log("pipelines: %s" % rows)
    shot(c, "pipelines")

    # --- compare: both pipelines' reward_mean overlaid, their eval tables side by side
    show(c, "#/compare?ids=%d,%d&metric=zero/reward_mean" % (DONE, LIVE))
    series = js(c, """return [...document.querySelectorAll('#compare-chart g.series')].map(g => +g.dataset.steps);""")
    want = [db_curves(p, "zero")["reward_mean"][0] for p in (DONE, LIVE)]
    if series != want:
        fail("the compare chart's series have %s points; the database %s" % (series, want))
    cols = js(c, "return [...document.querySelectorAll('#compare-evals .eval-col')].map(d => +d.dataset.pipeline);")
    if cols != [DONE, LIVE]:
        fail("the compare page's eval tables are of %s" % cols)
    log("compare: zero/reward_mean of %d and %d overlaid (%s points), 2 eval tables" % (DONE, LIVE, series))
    shot(c, "compare")

    # --- nothing ran that should not have, nothing was refused
    if c.evaluate("window.__loaded") != "once":
        fail("the page was reloaded")
    for e in c.events:
        m, p = e["method"], e.get("params", {})
        if m == "Page.javascriptDialogOpening":
            fail("a dialog opened: %s" % p.get("message"))
        if m == "Runtime.exceptionThrown":
            fail("a script error: %s" % json.dumps(p)[:600])
        if m == "Log.entryAdded" and ("Content Security Policy" in p["entry"].get("text", "")
                                      or "Refused to" in p["entry"].get("text", "")):
            fail("a CSP violation: %s" % p["entry"]["text"])
    log("no script error, no CSP violation, no dialog; screenshots in %s: %s" % (OUT, ", ".join(shots)))


def main():
    signal.signal(signal.SIGTERM, lambda *a: sys.exit("FAIL: terminated"))
    profile = os.path.join(OUT, "chromium")
    os.makedirs(profile, exist_ok=True)
    c = Chrome(CHROMIUM, profile)
    with open(os.path.join(OUT, "chromium.pid"), "w") as f:
        f.write(str(c.proc.pid))
    try:
        run(c)
    finally:
        c.close()


main()
