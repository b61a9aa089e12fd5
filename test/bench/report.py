#!/usr/bin/env python3
"""report: the benchmark's table from results.jsonl (test/bench/run.sh).

One Markdown table: item, figure, saturation-scaler, the grpc-go peer, the
ratio (us / peer), the target and met/missed. Repeated runs (A B A B) are
averaged: calls/s and CPU per call as means, latency quantiles as the mean
of the runs' quantiles.

Usage: report.py results.jsonl
"""
import json
import sys
from collections import defaultdict


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def runq(rs, cfg=None):
    """Run-queue wait of the server's threads per second of the window
    (summed over threads, so it may exceed 1): time they were runnable
    but other work held the CPU."""
    return mean([r.get("server_runq_wait_share") for r in rs])


def fmt(v, unit="", nd=1):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000 and nd <= 1:
        s = "{:,.0f}".format(v)
    else:
        s = "{:.{}f}".format(v, nd)
    return s + unit


class Table:
    def __init__(self):
        self.rows = []
        self.missed = 0
        self.met = 0

    def add(self, item, what, us, peer=None, ratio=None, target="", ok=None, unit="", nd=1):
        if ratio is None and isinstance(us, (int, float)) and isinstance(peer, (int, float)) and peer:
            ratio = us / peer
        verdict = "" if ok is None else ("met" if ok else "**missed**")
        if ok is True:
            self.met += 1
        elif ok is False:
            self.missed += 1
        self.rows.append((item, what, fmt(us, unit, nd), fmt(peer, unit, nd),
                          "-" if ratio is None else "{:.2f}x".format(ratio), target, verdict))

    def render(self):
        out = ["| # | figure | saturation-scaler | grpc-go peer | ratio | target | |",
               "|---|---|---:|---:|---:|---|---|"]
        for r in self.rows:
            out.append("| " + " | ".join(r) + " |")
        out.append("")
        out.append("%d targets met, %d missed." % (self.met, self.missed))
        return "\n".join(out)


def main():
    rows = load(sys.argv[1])
    by = defaultdict(list)
    for r in rows:
        by[r.get("label", "")].append(r)
    t = Table()
    machine = (by.get("machine") or [{}])[0]
    cfg = (by.get("config") or [{}])[0]

    # ---- 1 ----
    i1 = defaultdict(list)
    for r in rows:
        lab = r.get("label", "")
        if lab.startswith("i1 "):
            _, who, method, c, _rep = lab.split()
            i1[(who, method, int(c))].append(r)
    for method in ("GetMetrics", "IsActive"):
        for c in (1, 16, 64):
            us, pe = i1.get(("us", method, c)), i1.get(("peer", method, c))
            if not us or not pe:
                continue
            g = lambda rs, k: mean([x.get(k) for x in rs])
            err_us = sum(x.get("errors", 0) for x in us)
            qps_u, qps_p = g(us, "calls_per_s"), g(pe, "calls_per_s")
            cpu_u, cpu_p = g(us, "server_cpu_us_per_call"), g(pe, "server_cpu_us_per_call")
            tag = "1 %s C=%d" % (method, c)
            t.add(tag, "calls/s", qps_u, qps_p, target=">= 1.0x peer", ok=qps_u >= qps_p)
            t.add(tag, "server CPU per call", cpu_u, cpu_p, target="<= 0.8x peer",
                  ok=cpu_u <= 0.8 * cpu_p, unit=" us", nd=1)
            t.add(tag, "p50", g(us, "p50_us"), g(pe, "p50_us"), unit=" us", nd=0)
            t.add(tag, "p99", g(us, "p99_us"), g(pe, "p99_us"), target="<= 1.0x peer",
                  ok=g(us, "p99_us") <= g(pe, "p99_us"), unit=" us", nd=0)
            t.add(tag, "p99.9", g(us, "p999_us"), g(pe, "p999_us"), unit=" us", nd=0)
            t.add(tag, "client util (CPU %s)" % cfg.get("client_cpu"), g(us, "client_util"),
                  g(pe, "client_util"), nd=2)
            t.add(tag, "server threads waiting for a CPU (run-queue s per s)", runq(us), runq(pe), nd=2)
            if err_us:
                t.add(tag, "errors", err_us, target="0", ok=False, nd=0)

    # ---- 2 ----
    i2u, i2p = by.get("i2 us"), by.get("i2 peer")
    if i2u:
        u = i2u[0]
        p = i2p[0] if i2p else {}
        t.add("2 KEDA cycle", "ScaledObjects / target rate",
              "%d / %g cycles/s" % (u["objects"], u["rate"]), None)
        t.add("2 KEDA cycle", "cycles/s achieved", u.get("cycles_per_s"), p.get("cycles_per_s"))
        t.add("2 KEDA cycle", "calls (%.0f s)" % u["window_s"], u.get("calls"), p.get("calls"), nd=0)
        t.add("2 KEDA cycle", "errors (+ not started)", u["errors"] + u.get("skipped", 0),
              p.get("errors", 0) + p.get("skipped", 0) if p else None, target="0",
              ok=(u["errors"] + u.get("skipped", 0) + u.get("unfinished", 0)) == 0, nd=0)
        t.add("2 KEDA cycle", "per-call p50", u.get("p50_us"), p.get("p50_us"), unit=" us", nd=0)
        t.add("2 KEDA cycle", "per-call p99", u.get("p99_us") / 1000, (p.get("p99_us") or 0) / 1000 or None,
              target="<= 2 ms", ok=u.get("p99_us") <= 2000, unit=" ms", nd=2)
        t.add("2 KEDA cycle", "per-call p99.9", u.get("p999_us") / 1000,
              (p.get("p999_us") or 0) / 1000 or None, unit=" ms", nd=2)
        t.add("2 KEDA cycle", "cycle p99 (from scheduled start)", u.get("cycle_p99_us") / 1000,
              (p.get("cycle_p99_us") or 0) / 1000 or None, unit=" ms", nd=2)
        t.add("2 KEDA cycle", "server CPU (share of one core)", u.get("server_util"), p.get("server_util"), nd=2)
        t.add("2 KEDA cycle", "server threads waiting for a CPU (run-queue s per s)", runq([u]),
              runq([p]) if p else None, nd=2)
        t.add("2 KEDA cycle", "server CPU per call", u.get("server_cpu_us_per_call"),
              p.get("server_cpu_us_per_call"), unit=" us")

    # ---- 3 ----
    mib = lambda kb: kb / 1024.0
    iu, ip = by.get("rss idle us"), by.get("rss idle peer")
    if iu:
        t.add("3 memory", "RSS idle", mib(iu[0]["rss_kb"]), mib(ip[0]["rss_kb"]) if ip else None,
              target="<= 10 MiB", ok=iu[0]["rss_kb"] <= 10 * 1024, unit=" MiB")
        t.add("3 memory", "  of which anonymous", mib(iu[0]["anon_kb"]),
              mib(ip[0]["anon_kb"]) if ip else None, unit=" MiB")
    tu = by.get("rss table us")
    if tu:
        t.add("3 memory", "RSS idle, %d-model table loaded" % cfg.get("objects", 0),
              mib(tu[0]["rss_kb"]), None, unit=" MiB")
    ku, kp = by.get("rss known us"), by.get("rss known peer")
    if ku:
        t.add("3 memory", "RSS, %d ScaledObjects known" % cfg.get("objects", 0), mib(ku[0]["rss_kb"]),
              mib(kp[0]["rss_kb"]) if kp else None, unit=" MiB")
    su, sp = by.get("rss streams us"), by.get("rss streams peer")
    if su:
        s = su[0]
        n = s["streams"]
        t.add("3 memory", "RSS, + %d open streams" % n, mib(s["rss_kb"]),
              mib(sp[0]["rss_kb"]) if sp else None, target="<= 64 MiB", ok=s["rss_kb"] <= 64 * 1024,
              unit=" MiB")
        gu = (s["rss_kb"] - s["before_kb"]) * 1024.0 / n
        gp = (sp[0]["rss_kb"] - sp[0]["before_kb"]) * 1024.0 / sp[0]["streams"] if sp else None
        t.add("3 memory", "growth per stream", gu / 1024, gp / 1024 if gp else None, unit=" KiB", nd=1)
        au = by.get("rss after-streams us")
        if au:
            t.add("3 memory", "RSS after the streams closed", mib(au[0]["rss_kb"]),
                  mib(by["rss after-streams peer"][0]["rss_kb"]) if by.get("rss after-streams peer") else None,
                  unit=" MiB")

    # ---- 4 ----
    i4 = sorted(by.get("i4", []), key=lambda r: r["series"])
    prev = None
    for r in i4:
        grow = "" if prev is None else " (x%.1f for x%.0f series)" % (
            r["total_ms"] / prev["total_ms"] if prev["total_ms"] else 0, r["series"] / prev["series"])
        what = "refresh CPU, %s series (%d models x %d pods; parse %.0f, join %.0f, table %.0f, analyze %.0f ms)%s" % (
            "{:,}".format(r["series"]), r["models"], r["pods"], r["parse_ms"], r["join_ms"],
            r["table_ms"], r["analyze_ms"], grow)
        is_target = r["models"] == 10000 and r["pods"] == 10
        t.add("4 refresh", what, r["total_ms"], None, target="<= 250 ms" if is_target else "",
              ok=(r["total_ms"] <= 250) if is_target else None, unit=" ms")
        prev = r

    # ---- 5 ----
    i5 = by.get("i5 us")
    if i5 and i5[0].get("flips"):
        r = i5[0]
        t.add("5 push", "streams / flips", "%d / %d" % (r["streams"], r["flips"]), None)
        t.add("5 push", "missing + duplicate messages", r["flip_missing"] + r["duplicates"], None,
              target="0", ok=r["flip_missing"] + r["duplicates"] == 0, nd=0)
        t.add("5 push", "p50 new snapshot -> message", r["push_fanout_p50_ms"], None, unit=" ms", nd=1)
        t.add("5 push", "p99 new snapshot -> message", r["push_fanout_p99_ms"], None, target="<= 50 ms",
              ok=r["push_fanout_p99_ms"] <= 50, unit=" ms", nd=1)
        t.add("5 push", "max new snapshot -> message", r["push_fanout_max_ms"], None, unit=" ms", nd=1)
        t.add("5 push", "p99 file rename -> message (incl. 200 ms file poll + parse)",
              r["push_write_p99_ms"], None, unit=" ms", nd=1)
        t.add("5 push", "open %d streams" % r["streams"], r["open_ms"],
              (by.get("i5 peer") or [{}])[0].get("open_ms"), unit=" ms", nd=0)

    # ---- 6 ----
    i6 = sorted(by.get("i6", []), key=lambda r: r["objects"])
    if i6:
        per = []
        for r in i6:
            refreshes = r["seconds"] / r["refresh_s"]
            q = r["queries"] / refreshes if refreshes else 0
            per.append(q)
            ld = r.get("load", {})
            t.add("6 Prometheus", "queries per %gs refresh, %d ScaledObjects (%d errors)" % (
                r["refresh_s"], r["objects"], ld.get("errors", 0)), q, None, nd=2)
        base = per[0]
        ok = all(abs(q - base) <= max(0.1 * base, 0.25) for q in per) and \
            all(r.get("load", {}).get("errors", 1) == 0 for r in i6)
        t.add("6 Prometheus", "constant in the number of ScaledObjects",
              "%.2f .. %.2f" % (min(per), max(per)), None, target="constant, 0 errors", ok=ok)

    print("Machine: %s CPUs (%s, family %s, %s MHz%s), %s MiB, Linux %s, load %s at start; "
          "server on CPU %s, client on CPU %s%s." % (
        machine.get("nproc"), machine.get("cpu_model"), machine.get("cpu_family"), machine.get("cpu_mhz"),
        ", " + machine["hypervisor"] + " guest" if machine.get("hypervisor") else "",
        machine.get("mem_mib"), machine.get("kernel"),
        machine.get("loadavg"), cfg.get("server_cpu"), cfg.get("client_cpu"),
        (", nice %s" % cfg["nice"] if cfg.get("nice") else "") + (", SCHED_FIFO" if cfg.get("rt") else "") + (", quick mode" if cfg.get("quick") else "")))
    print()
    print(t.render())


if __name__ == "__main__":
    main()
