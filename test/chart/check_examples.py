#!/usr/bin/python3
"""check_examples.py: the Kubernetes and monitoring examples, checked without a cluster.

    /usr/bin/python3 test/chart/check_examples.py SOURCE_DIR [--binary PATH]

- examples/keda/*.yaml parse (python3-yaml, duplicate keys are errors); every
  ScaledObject's trigger is external or external-push, leaves metricType unset
  and says why in a comment, points at the chart's default scalerAddress, uses
  only metadata keys the scaler knows (README's tables), and carries the HPA
  behaviour block that lets the scaler's tolerance step through (scale-up
  Percent 100 / Pods 4 per 15 s, Max, no window; scale-down window 300 s);
  authenticationRef names a TriggerAuthentication of the same file with the
  TLS parameters; the annotated form has the llm-d.ai annotations and no
  modelID;
- examples/monitoring/podmonitor-vllm.yaml parses, is a monitoring.coreos.com/v1
  PodMonitor, and its relabelings, run by a real Prometheus (/usr/bin/prometheus,
  file_sd targets carrying the meta labels Kubernetes discovery would set, on
  127.0.0.1), give llm_d_ai_variant from the pod label llm-d.ai/variant
  (__meta_kubernetes_pod_label_llm_d_ai_variant), namespace and pod, and no
  llm_d_ai_variant to a pod without the label;
- examples/monitoring/promql-cheatsheet.md names only metrics src/metrics.c
  exports, and every ```promql block passes `promtool check rules`;
- examples/config/config.json passes `saturation-scaler check-config` (with
  --binary; the files it names are replaced by temp files).

Ends with the "N passed, N failed" line; exit 1 on any failure.
"""

import argparse
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import check as C  # noqa: E402  (Results, strict YAML, the behaviour check)

R = C.R
SCALER_ADDRESS = "saturation-scaler.keda.svc.cluster.local:6000"  # the chart's defaults
OTHER_KEYS = {"modelID", "namespace", "metricName", "prometheus", "scalerAddress"}
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


def readme_keys(top):
    with open(os.path.join(top, "README.md")) as f:
        text = f.read()
    m = re.search(r"<!-- keys:begin -->(.*?)<!-- keys:end -->", text, re.S)
    return set(re.findall(r"^\| `([A-Za-z]+)`", m.group(1) if m else "", re.M))


def check_keda(top):
    R.section("examples/keda")
    keys = readme_keys(top) | OTHER_KEYS
    R.check(len(keys) > len(OTHER_KEYS), "README's metadata keys table read")
    files = sorted(glob.glob(os.path.join(top, "examples", "keda", "*.yaml")))
    R.check(len(files) >= 4, "examples/keda has the four ScaledObject examples",
            [os.path.basename(f) for f in files])
    forms = set()
    for path in files:
        name = os.path.relpath(path, top)
        with open(path) as f:
            text = f.read()
        docs = C.load_all(text, name)
        if docs is None:
            continue
        tas = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "TriggerAuthentication"}
        sos = [d for d in docs if d.get("kind") == "ScaledObject"]
        R.check(sos, "%s: has a ScaledObject" % name)
        for d in docs:
            R.check(d.get("apiVersion") == "keda.sh/v1alpha1" and d.get("metadata", {}).get("name")
                    and d.get("metadata", {}).get("namespace"),
                    "%s: %s has keda.sh/v1alpha1, a name and a namespace" % (name, d.get("kind")))
        R.check(re.search(r"#\s*metricType: left unset.*\n(\s*#.*\n)*", text) and
                re.search(r"Value.{0,40}\n?.{0,40}multipl", text, re.S),
                "%s: a comment says why metricType is unset (Value multiplies by the pod count)" %
                name)
        for so in sos:
            spec = so.get("spec", {})
            beh = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get(
                "behavior", {})
            C.check_behavior(beh, name)
            ann = so["metadata"].get("annotations") or {}
            for t in spec.get("triggers") or []:
                R.check(t.get("type") in ("external", "external-push"),
                        "%s: trigger type external or external-push" % name, t.get("type"))
                forms.add(t.get("type"))
                R.check("metricType" not in t and "metricType" not in t.get("metadata", {}),
                        "%s: metricType unset" % name)
                md = t.get("metadata") or {}
                R.check(md.get("scalerAddress") == SCALER_ADDRESS,
                        "%s: scalerAddress is the chart's default %s" % (name, SCALER_ADDRESS),
                        md.get("scalerAddress"))
                for k, v in md.items():
                    R.check(k in keys, "%s: metadata key %s is one the scaler knows" % (name, k))
                    R.check(isinstance(v, str), "%s: metadata %s is a string (as KEDA sends it)" %
                            (name, k), type(v).__name__)
                if ann.get("llm-d.ai/managed") == "true":
                    forms.add("annotated")
                    R.check("modelID" not in md and ann.get("llm-d.ai/model-id"),
                            "%s: annotated form: model id from llm-d.ai/model-id, no modelID" %
                            name)
                else:
                    R.check(md.get("modelID"), "%s: modelID in metadata" % name)
                ref = (t.get("authenticationRef") or {}).get("name")
                if ref:
                    forms.add("tls")
                    ta = tas.get(ref)
                    params = sorted(r["parameter"] for r in
                                    (ta or {}).get("spec", {}).get("secretTargetRef", []))
                    R.check(ta is not None and params == ["caCert", "tlsClientCert",
                                                          "tlsClientKey"],
                            "%s: TriggerAuthentication %s gives caCert, tlsClientCert, "
                            "tlsClientKey" % (name, ref), params)
    R.check(forms >= {"external", "external-push", "annotated", "tls"},
            "examples/keda covers external, external-push, annotated and mutual TLS",
            sorted(forms))


def to_prometheus_relabel(r):
    out = {}
    for k, v in r.items():
        snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k)
        out[snake] = v
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url, timeout=2):
    with urllib.request.urlopen(url, timeout=timeout) as f:
        return json.loads(f.read().decode())


def check_podmonitor(top, tmp):
    R.section("examples/monitoring/podmonitor-vllm.yaml")
    path = os.path.join(top, "examples", "monitoring", "podmonitor-vllm.yaml")
    docs = C.load_all(open(path).read(), path)
    if not docs:
        return
    pm = docs[0]
    R.check(pm.get("apiVersion") == "monitoring.coreos.com/v1" and pm.get("kind") == "PodMonitor",
            "a monitoring.coreos.com/v1 PodMonitor")
    eps = pm.get("spec", {}).get("podMetricsEndpoints") or []
    if not R.check(len(eps) == 1 and eps[0].get("path") == "/metrics",
                   "one endpoint scraping /metrics"):
        return
    rl = eps[0].get("relabelings") or []
    R.check(any(r.get("sourceLabels") == ["__meta_kubernetes_pod_label_llm_d_ai_variant"] and
                r.get("targetLabel") == "llm_d_ai_variant" for r in rl),
            "relabels __meta_kubernetes_pod_label_llm_d_ai_variant to llm_d_ai_variant")
    for src, dst in (("__meta_kubernetes_namespace", "namespace"),
                     ("__meta_kubernetes_pod_name", "pod")):
        R.check(any(r.get("sourceLabels") == [src] and r.get("targetLabel") == dst for r in rl),
                "relabels %s to %s" % (src, dst))

    # The same relabelings in a real Prometheus: targets from file_sd carrying
    # the meta labels Kubernetes pod discovery would set.
    if not R.check(os.access(PROMETHEUS, os.X_OK), "%s installed" % PROMETHEUS):
        return
    d = os.path.join(tmp, "prom")
    os.makedirs(d)
    targets = [
        {"targets": ["127.0.0.1:9"], "labels": {
            "__meta_kubernetes_pod_label_llm_d_ai_variant": "granite-13b-a100",
            "__meta_kubernetes_namespace": "llm", "__meta_kubernetes_pod_name": "granite-0"}},
        {"targets": ["127.0.0.1:10"], "labels": {
            "__meta_kubernetes_namespace": "llm", "__meta_kubernetes_pod_name": "granite-1"}},
    ]
    with open(os.path.join(d, "targets.json"), "w") as f:
        json.dump(targets, f)
    cfg = {"global": {"scrape_interval": "1h"},
           "scrape_configs": [{"job_name": "vllm", "metrics_path": eps[0]["path"],
                               "file_sd_configs": [{"files": [os.path.join(d, "targets.json")],
                                                    "refresh_interval": "1s"}],
                               "relabel_configs": [to_prometheus_relabel(r) for r in rl]}]}
    with open(os.path.join(d, "prometheus.yml"), "w") as f:
        json.dump(cfg, f)  # JSON is YAML
    port = free_port()
    log = open(os.path.join(d, "log"), "w")
    p = subprocess.Popen([PROMETHEUS, "--config.file=" + os.path.join(d, "prometheus.yml"),
                          "--storage.tsdb.path=" + os.path.join(d, "data"),
                          "--web.listen-address=127.0.0.1:%d" % port],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        got = None
        deadline = time.time() + 30
        while time.time() < deadline and p.poll() is None:
            try:
                t = http_json("http://127.0.0.1:%d/api/v1/targets" % port)
                active = t["data"]["activeTargets"]
                if len(active) == 2:
                    got = {a["labels"]["pod"] if "pod" in a["labels"] else a["scrapeUrl"]:
                           a["labels"] for a in active}
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        if not R.check(got is not None, "Prometheus discovered the two targets",
                       open(os.path.join(d, "log")).read()[-2000:]):
            return
        a, b = got.get("granite-0", {}), got.get("granite-1", {})
        R.check(a.get("llm_d_ai_variant") == "granite-13b-a100",
                "labelled pod: llm_d_ai_variant from llm-d.ai/variant", a)
        R.check(a.get("namespace") == "llm" and a.get("pod") == "granite-0",
                "labelled pod: namespace and pod", a)
        R.check("llm_d_ai_variant" not in b and b.get("namespace") == "llm",
                "unlabelled pod: no llm_d_ai_variant", b)
    finally:
        p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()


def exported_metrics(top):
    """Names /metrics can carry: each family of src/metrics.c, histograms with
    _bucket/_sum/_count."""
    with open(os.path.join(top, "src", "metrics.c")) as f:
        text = f.read()
    names = set()
    for m in re.finditer(r'\.name\s*=\s*PREFIX\s*"([a-z_]+)",\s*\.kind\s*=\s*(KIND_[A-Z]+)', text):
        base = "saturation_scaler_" + m.group(1)
        names.add(base)
        if m.group(2) == "KIND_HISTOGRAM":
            names |= {base + "_bucket", base + "_sum", base + "_count"}
    return names


def check_cheatsheet(top, tmp):
    R.section("examples/monitoring/promql-cheatsheet.md")
    path = os.path.join(top, "examples", "monitoring", "promql-cheatsheet.md")
    with open(path) as f:
        text = f.read()
    names = exported_metrics(top)
    R.check(len(names) >= 18, "metric families read from src/metrics.c", len(names))
    blocks = re.findall(r"```promql\n(.*?)```", text, re.S)
    R.check(len(blocks) >= 15, "the cheat-sheet has its queries", len(blocks))
    used = set(re.findall(r"\bsaturation_scaler_[a-z_]+", "\n".join(blocks)))
    R.check(used and used <= names, "queries name only exported metrics",
            sorted(used - names))
    # Table names (without the prefix).
    for short in re.findall(r"^\| `([a-z_]+)`", text, re.M):
        R.check("saturation_scaler_" + short in names,
                "table: saturation_scaler_%s is exported" % short)
    families = {n for n in names if not re.search(r"_(bucket|sum|count)$", n) or
                n.replace("_bucket", "").replace("_sum", "").replace("_count", "") not in names}
    covered = set(re.findall(r"\bsaturation_scaler_[a-z_]+", text)) | {
        "saturation_scaler_" + s for s in re.findall(r"`([a-z_]+)`", text)}
    R.check(families <= covered, "every exported family is mentioned",
            sorted(families - covered))
    if not R.check(os.access(PROMTOOL, os.X_OK), "%s installed" % PROMTOOL):
        return
    rules = {"groups": [{"name": "cheatsheet", "rules": [
        {"record": "cheatsheet:query_%d" % i, "expr": b.strip()} for i, b in enumerate(blocks)]}]}
    rpath = os.path.join(tmp, "cheatsheet-rules.yml")
    with open(rpath, "w") as f:
        json.dump(rules, f)
    p = subprocess.run([PROMTOOL, "check", "rules", rpath], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    R.check(p.returncode == 0, "every query parses (promtool check rules)", p.stdout.strip())


def check_config_example(top, binary, tmp):
    R.section("examples/config/config.json")
    path = os.path.join(top, "examples", "config", "config.json")
    with open(path) as f:
        cfg = json.load(f)
    eps = cfg.get("prometheus", {})
    R.check(len(eps) >= 2, "two Prometheus endpoints", sorted(eps))
    R.check(cfg.get("overrides"), "per-model overrides")
    if binary:
        C.check_config_with_binary(cfg, "examples/config/config.json", binary, tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", help="the repository's top directory")
    ap.add_argument("--binary", help="saturation-scaler, for check-config")
    opts = ap.parse_args()
    top = os.path.abspath(opts.source)
    if C.yaml is None:
        print("check_examples.py: python3-yaml is missing (apt-get install -y python3-yaml)")
        print("0 passed, 1 failed")
        return 1
    tmp = tempfile.mkdtemp(prefix="sat-examples-")
    try:
        check_keda(top)
        check_podmonitor(top, tmp)
        check_cheatsheet(top, tmp)
        check_config_example(top, opts.binary, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (R.passed, R.failed))
    return 0 if R.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
