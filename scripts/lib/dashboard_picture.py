#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Renders the Grafana dashboard (packaging/grafana/sluice.json) from real data, since Grafana is not
# in Debian: a real Prometheus scrapes a real sluice-server (both started here on free loopback
# ports) while this script sends it a bounded, scripted load (3 minutes: steady, a burst, steady);
# then every panel's own PromQL expressions are asked of Prometheus (query_range) and drawn in the
# dashboard's layout with matplotlib. Called by scripts/dashboard-picture.
#   dashboard_picture.py <sluice-server> <dashboard.json> <out.png> <workdir>
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SERVER, DASHBOARD, OUT, WORK = sys.argv[1:5]
LOAD_SECONDS = int(os.environ.get("SLUICE_PICTURE_SECONDS", "180"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.2)
    sys.exit("no answer from %s" % url)


sluice_port, prom_port = free_port(), free_port()
procs = []
log = open(os.path.join(WORK, "servers.log"), "w")
procs.append(subprocess.Popen([SERVER, "--port", str(sluice_port), "--admin-token", "picture"], stdout=log,
                              stderr=subprocess.STDOUT))
config = os.path.join(WORK, "prometheus.yml")
with open(config, "w") as f:
    f.write("global:\n  scrape_interval: 2s\n  evaluation_interval: 2s\nscrape_configs:\n"
            "  - job_name: sluice\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % sluice_port)
procs.append(subprocess.Popen(["prometheus", "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(WORK, "tsdb"),
                               "--web.listen-address=127.0.0.1:%d" % prom_port], stdout=log, stderr=subprocess.STDOUT))
base = "http://127.0.0.1:%d" % sluice_port
prom = "http://127.0.0.1:%d" % prom_port
try:
    wait_http(base + "/health")
    wait_http(prom + "/-/ready")

    # The load: enterprise users on gpt-4o (100/h each), free_co users on tiny-model (the free tier's
    # 10/h blocks them soon), gpt-4o-mini users (a token bucket of 10, refilled 1/s), ent-user-2 on
    # gpt-4o (10/h); a fifth through the forward-auth door. Bounded: LOAD_SECONDS, at most 150/s.
    stop_at = time.time() + LOAD_SECONDS
    started = time.time()
    sent = [0]
    lock = threading.Lock()

    def one(rng):
        kind = rng.random()
        if kind < 0.45:
            body = {"userId": "ent-%d" % rng.randrange(40), "modelId": "gpt-4o", "tenantId": "enterprise_co"}
        elif kind < 0.65:
            body = {"userId": "free-%d" % rng.randrange(15), "modelId": "tiny-model", "tenantId": "free_co"}
        elif kind < 0.8:
            body = {"userId": "mini-%d" % rng.randrange(5), "modelId": "gpt-4o-mini", "tenantId": "enterprise_co"}
        else:
            body = {"userId": "ent-user-2", "modelId": "gpt-4o", "tenantId": "enterprise_co"}
        if rng.random() < 0.2:
            req = urllib.request.Request(base + "/rate-limit/forward-auth", headers={
                "X-User-Id": body["userId"], "X-Model-Id": body["modelId"], "X-Tenant-Id": body["tenantId"]})
        else:
            req = urllib.request.Request(base + "/rate-limit/check", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=5).read()
        except urllib.error.HTTPError as e:
            e.read()

    def worker(seed):
        rng = random.Random(seed)
        while time.time() < stop_at:
            t = time.time() - started
            rate = 150 if LOAD_SECONDS / 3 <= t < 2 * LOAD_SECONDS / 3 else 50  # per second, all workers
            one(rng)
            with lock:
                sent[0] += 1
            time.sleep(4.0 / rate)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = time.time()
    time.sleep(5)  # the last scrapes
    print("sent %d checks in %.0f s" % (sent[0], end - started))

    dashboard = json.load(open(DASHBOARD))

    def query_range(expr):
        expr = expr.replace('instance=~"$instance"', 'instance=~".*"')
        q = urllib.parse.urlencode({"query": expr, "start": started, "end": end + 5, "step": 5})
        answer = json.load(urllib.request.urlopen(prom + "/api/v1/query_range?" + q, timeout=30))
        if answer.get("status") != "success":
            sys.exit("Prometheus refused %s: %s" % (expr, answer))
        return answer["data"]["result"]

    def legend(fmt, metric):
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt or "").strip() or "value"

    panels = dashboard["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels) // 8
    plt.style.use("dark_background")
    fig, axes = plt.subplots(rows, 2, figsize=(16, 3.2 * rows), facecolor="#111217")
    fig.suptitle("%s — rendered from a real Prometheus scraping sluice-server under %d s of scripted load"
                 % (dashboard.get("title", "Sluice"), LOAD_SECONDS), color="#d8d9da", fontsize=13)
    for p in panels:
        ax = axes[p["gridPos"]["y"] // 8][0 if p["gridPos"]["x"] < 12 else 1]
        ax.set_facecolor("#181b1f")
        ax.set_title(p["title"], loc="left", color="#d8d9da", fontsize=10)
        # Latencies read better in ms; other seconds (an age) stay seconds.
        in_ms = any("histogram_quantile" in t["expr"] for t in p.get("targets", []))
        drawn = 0
        if p["type"] == "bargauge":
            bars = []
            for t in p.get("targets", []):
                for s in query_range(t["expr"]):
                    bars.append((legend(t.get("legendFormat"), s["metric"]), float(s["values"][-1][1])))
            bars = sorted(bars, key=lambda b: b[1])[-10:]
            if bars:
                ax.barh([b[0] for b in bars], [b[1] for b in bars], color="#f2495c")
                ax.set_xlabel("blocked per second (5 min rate, at the end)", fontsize=8)
                drawn = len(bars)
        else:
            for t in p.get("targets", []):
                for s in query_range(t["expr"]):
                    xs = [float(v[0]) - started for v in s["values"]]
                    ys = [float(v[1]) if v[1] not in ("NaN", "+Inf", "-Inf") else float("nan") for v in s["values"]]
                    if in_ms:
                        ys = [y * 1000 for y in ys]
                    ax.plot(xs, ys, linewidth=1.3, label=legend(t.get("legendFormat"), s["metric"]))
                    drawn += 1
            ax.set_xlabel("seconds since the load started", fontsize=8)
            if in_ms:
                ax.set_ylabel("ms", fontsize=8)
            if drawn:
                ax.legend(fontsize=6.5, loc="upper left", ncol=2, framealpha=0.4)
        if not drawn:
            ax.text(0.5, 0.5, "no data (nothing of this happened)", ha="center", va="center", color="#8e8e8e",
                    transform=ax.transAxes)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.15)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(OUT, dpi=80, facecolor=fig.get_facecolor())
    print("wrote %s" % OUT)
finally:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
