#!/usr/bin/python3
"""check.py: checks charts/saturation-scaler without helm and without a cluster.

    /usr/bin/python3 test/chart/check.py CHART_DIR [--binary PATH]

How: test/chart/render/main.go is built (GOPATH mode, Debian's golang-go,
golang-github-masterminds-sprig-dev and golang-k8s-sigs-yaml-dev; nothing is
downloaded) into a temp dir. It is Go's own text/template with sprig's
functions and Helm's include/tpl/required/fail/toYaml/toJson, values read as
Helm reads them: the templates are rendered by the engine Helm uses, not by
an imitation. Every rendered document is then parsed with PyYAML
(python3-yaml; duplicate keys are errors) and checked, for the default
values and for each scenario in test/chart/values/ (also usable with a real
`helm template -f`):

- every values file (values.yaml, test/chart/values/*.yaml) parses, and every
  key of values.yaml down to the second level is documented (a comment on
  its line or right above it);
- every document has apiVersion, kind (with the apiVersion that kind needs),
  metadata.name (a DNS name), a namespace when namespaced; no two objects
  share kind/namespace/name; label values are valid;
- the RBAC rules are exactly the issue's list, in ClusterRole or per-namespace
  Roles, bound to the chart's ServiceAccount, and absent without kube.enabled;
- the Deployment: non-root as the Dockerfile's user, read-only root
  filesystem, no privilege escalation, all capabilities dropped, RuntimeDefault
  seccomp, resources; probes on the HTTP port's /healthz and /readyz (gRPC
  probes on the plaintext gRPC port when HTTP is off); the command is the
  Dockerfile's binary with `serve` and only flags the binary knows; ports,
  volumes and mounts agree; TLS files come from the Secret; preferred
  anti-affinity by hostname by default;
- the headless gRPC Service and the HTTP Service select the pods and target
  named container ports; the ServiceMonitor selects the HTTP Service only;
  the PodDisruptionBudget selects the pods;
- the ConfigMap's config.json is the `config` value (and passes
  `saturation-scaler check-config` with --binary);
- NOTES.txt's ScaledObject parses, names the headless Service's DNS name and
  port as scalerAddress, leaves metricType unset and says why;
- combinations the chart refuses (TLS without a Secret, TLS without HTTP, ...)
  fail to render with their message.

Not checked here: anything a cluster or helm itself would (schema validation
against the API server, CRDs installed, the image runs). Ends with the
"N passed, N failed" line; exit 1 on any failure.
"""

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGES = ["golang-go", "golang-github-masterminds-sprig-dev", "golang-k8s-sigs-yaml-dev",
            "python3-yaml"]
GOPATH = "/usr/share/gocode"

try:
    import yaml
except ImportError:  # reported in main(), with the packages to install
    yaml = None

# The rules the issue lists, exactly (and what test/integration/fakekube.py
# enforces): nothing else may be granted.
ISSUE_RULES = [
    {"apiGroups": ["keda.sh"], "resources": ["scaledobjects"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale", "replicasets"],
     "verbs": ["get"]},
    {"apiGroups": ["leaderworkerset.x-k8s.io"],
     "resources": ["leaderworkersets", "leaderworkersets/scale"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
]

API_VERSIONS = {
    "Deployment": "apps/v1", "Service": "v1", "ServiceAccount": "v1", "ConfigMap": "v1",
    "ClusterRole": "rbac.authorization.k8s.io/v1",
    "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
    "Role": "rbac.authorization.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
    "PodDisruptionBudget": "policy/v1", "ServiceMonitor": "monitoring.coreos.com/v1",
}
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding"}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
NOTES_BEGIN = re.compile(r"^-------- 8< --------.*$", re.M)
NOTES_END = re.compile(r"^-------- >8 --------$", re.M)


# ---- results ---------------------------------------------------------------------------

class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL %s%s" % (what, (": " + str(detail)) if detail != "" else ""))
        return cond

    def section(self, name):
        print("== %s" % name)


R = Results()


# ---- YAML with duplicate keys as errors ----------------------------------------------

def strict_loader():
    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        loader.flatten_mapping(node)
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, "duplicate key %r" % (key,), key_node.start_mark)
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Loader


def load_all(text, where):
    try:
        return [d for d in yaml.load_all(text, Loader=strict_loader()) if d is not None]
    except yaml.YAMLError as e:
        R.check(False, "%s parses as YAML" % where, e)
        return None


def load_file(path):
    with open(path) as f:
        docs = load_all(f.read(), path)
    if docs is None:
        return None
    return docs[0] if docs else {}


# ---- the renderer ------------------------------------------------------------------------

def build_renderer(tmp):
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOFLAGS="", CGO_ENABLED="0",
               GOCACHE=os.path.join(tmp, "gocache"), GOTOOLCHAIN="local")
    out = os.path.join(tmp, "render")
    p = subprocess.run(["go", "build", "-o", out, os.path.join(HERE, "render", "main.go")],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=300)
    if p.returncode != 0:
        print(p.stdout)
        return None
    return out


class Render:
    def __init__(self, renderer, chart, tmp):
        self.renderer, self.chart, self.tmp = renderer, chart, tmp
        self.n = 0

    def __call__(self, release, namespace, value_files=(), overlay=None):
        """(files, error): files maps template name -> text."""
        args = [self.renderer, "-chart", self.chart, "-name", release, "-namespace", namespace]
        for f in value_files:
            args += ["-f", f]
        if overlay is not None:
            self.n += 1
            path = os.path.join(self.tmp, "overlay-%d.yaml" % self.n)
            with open(path, "w") as f:
                json.dump(overlay, f)  # JSON is YAML
            args += ["-f", path]
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        if p.returncode != 0:
            return None, p.stderr.strip()
        return json.loads(p.stdout), None


# ---- helpers --------------------------------------------------------------------------

def merged_values(chart, value_files, overlay=None):
    """values.yaml with the scenario's files over it (maps merge, null deletes), as Helm."""
    def coalesce(dst, src):
        for k, v in src.items():
            if v is None:
                dst.pop(k, None)
            elif isinstance(v, dict) and isinstance(dst.get(k), dict):
                coalesce(dst[k], v)
            else:
                dst[k] = copy.deepcopy(v)
        return dst
    vals = load_file(os.path.join(chart, "values.yaml")) or {}
    for f in value_files:
        coalesce(vals, load_file(f) or {})
    if overlay:
        coalesce(vals, overlay)
    return vals


def subset(small, big):
    return isinstance(small, dict) and isinstance(big, dict) and all(
        big.get(k) == v for k, v in small.items())


def binary_flags(binary, readme):
    """Flags `saturation-scaler serve` knows: from the binary when given, else the
    README's generated table (test docs_tables keeps it equal to the binary)."""
    if binary:
        p = subprocess.run([binary, "serve", "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        text = p.stdout
        return set(re.findall(r"^\s+(--[a-z0-9-]+)", text, re.M)), "serve --help"
    with open(readme) as f:
        text = f.read()
    m = re.search(r"<!-- flags:begin -->(.*?)<!-- flags:end -->", text, re.S)
    return set(re.findall(r"^\| `(--[a-z0-9-]+)`", m.group(1) if m else "", re.M)), readme


def dockerfile_facts(path):
    """(uid, binary path) of the runtime image, from the Dockerfile."""
    uid = binary = None
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
        m = re.findall(r"^USER\s+(\d+)", text, re.M)
        uid = int(m[-1]) if m else None
        m = re.findall(r"^COPY\s+--from=\S+\s+\S+saturation-scaler\s+(\S+)", text, re.M)
        binary = m[-1] if m else None
    return uid, binary


# ---- the checks ------------------------------------------------------------------------

def check_values_documented(path):
    """Every key of values.yaml at depth 0 and 1 has a comment on its line or right
    above it (depth 1: two-space indent)."""
    with open(path) as f:
        lines = f.read().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        m = re.match(r"^( {0,2})([A-Za-z][A-Za-z0-9_]*):(\s|$)", line)
        if not m:
            continue
        if "#" in line.split(":", 1)[1]:
            continue
        prev = lines[i - 1].strip() if i > 0 else ""
        if prev.startswith("#"):
            continue
        undocumented.append("%d: %s" % (i + 1, line.strip()))
    R.check(not undocumented, "values.yaml: every key (two levels deep) is documented",
            "; ".join(undocumented))


def objects_of(files, where):
    objs = []
    for name in sorted(files):
        if name.endswith("NOTES.txt"):
            continue
        docs = load_all(files[name], "%s %s" % (where, name))
        if docs is None:
            continue
        for d in docs:
            d["__source"] = name
            objs.append(d)
    return objs


def find(objs, kind, name=None):
    return [o for o in objs if o.get("kind") == kind and
            (name is None or o.get("metadata", {}).get("name") == name)]


def check_objects(objs, sc):
    where = sc["name"]
    seen = set()
    for o in objs:
        src = o.get("__source", "?")
        kind = o.get("kind")
        meta = o.get("metadata") or {}
        name = meta.get("name")
        R.check(isinstance(o.get("apiVersion"), str) and o.get("apiVersion"),
                "%s %s: apiVersion" % (where, src))
        R.check(kind in API_VERSIONS, "%s %s: kind %r is one the chart is meant to create" %
                (where, src, kind))
        if kind in API_VERSIONS:
            R.check(o.get("apiVersion") == API_VERSIONS[kind], "%s %s: %s is %s" %
                    (where, src, kind, API_VERSIONS[kind]), o.get("apiVersion"))
        R.check(isinstance(name, str) and DNS_SUBDOMAIN.match(name or ""),
                "%s %s: metadata.name is a DNS name" % (where, src), name)
        if kind == "Service":
            R.check(DNS_LABEL.match(name or ""), "%s: Service name is a DNS label" % where, name)
        ns = meta.get("namespace")
        if kind in CLUSTER_SCOPED:
            R.check(ns is None, "%s %s: %s has no namespace" % (where, src, kind), ns)
        else:
            R.check(isinstance(ns, str) and DNS_LABEL.match(ns or ""),
                    "%s %s: %s has a namespace" % (where, src, kind), ns)
        key = (kind, ns, name)
        R.check(key not in seen, "%s: %s/%s/%s appears once" % ((where,) + key))
        seen.add(key)
        for k, v in (meta.get("labels") or {}).items():
            R.check(isinstance(v, str) and LABEL_VALUE.match(v),
                    "%s %s: label %s=%r is a valid label value" % (where, src, k, v))


def check_rbac(objs, sc, vals, sa_name, release_ns):
    where = sc["name"]
    roles = find(objs, "ClusterRole") + find(objs, "Role")
    bindings = find(objs, "ClusterRoleBinding") + find(objs, "RoleBinding")
    if not (vals["kube"]["enabled"] and vals["rbac"]["create"]):
        R.check(not roles and not bindings, "%s: no RBAC without kube.enabled/rbac.create" % where,
                [o["kind"] for o in roles + bindings])
        return
    if vals["rbac"]["namespaced"]:
        R.check(not find(objs, "ClusterRole"), "%s: namespaced RBAC has no ClusterRole" % where)
        got = sorted(o["metadata"]["namespace"] for o in find(objs, "Role"))
        R.check(got == sorted(vals["rbac"]["namespaces"]),
                "%s: one Role per rbac.namespaces" % where, got)
    else:
        R.check(len(find(objs, "ClusterRole")) == 1 and not find(objs, "Role"),
                "%s: one ClusterRole" % where)
    for role in roles:
        R.check(role.get("rules") == ISSUE_RULES,
                "%s: %s %s grants exactly the issue's rules" % (where, role["kind"],
                                                                 role["metadata"]["name"]),
                role.get("rules"))
    R.check(len(bindings) == len(roles), "%s: one binding per role" % where)
    for b in bindings:
        ref = b.get("roleRef") or {}
        want_kind = "ClusterRole" if b["kind"] == "ClusterRoleBinding" else "Role"
        target = [r for r in roles if r["kind"] == want_kind and
                  r["metadata"]["name"] == ref.get("name") and
                  r["metadata"].get("namespace") == b["metadata"].get("namespace")]
        R.check(ref.get("kind") == want_kind and ref.get("apiGroup") ==
                "rbac.authorization.k8s.io" and target,
                "%s: %s refers to a rendered %s" % (where, b["kind"], want_kind), ref)
        R.check(b.get("subjects") == [{"kind": "ServiceAccount", "name": sa_name,
                                       "namespace": release_ns}],
                "%s: %s binds the chart's ServiceAccount" % (where, b["kind"]), b.get("subjects"))


def check_deployment(objs, sc, vals, ctx):
    where = sc["name"]
    deps = find(objs, "Deployment")
    if not R.check(len(deps) == 1, "%s: one Deployment" % where, len(deps)):
        return None
    d = deps[0]
    spec = d["spec"]
    pod = spec["template"]
    pod_labels = pod["metadata"]["labels"]
    R.check(subset(spec["selector"]["matchLabels"], pod_labels),
            "%s: Deployment selector matches its pod labels" % where)
    R.check(spec.get("replicas") == vals["replicaCount"], "%s: replicas" % where)
    ps = pod["spec"]
    if not R.check(len(ps["containers"]) == 1, "%s: one container" % where):
        return None
    c = ps["containers"][0]

    # Security: non-root as the image's user, nothing writable, nothing to escalate.
    psc = ps.get("securityContext") or {}
    csc = c.get("securityContext") or {}
    eff = dict(psc, **csc)
    R.check(eff.get("runAsNonRoot") is True, "%s: runAsNonRoot" % where, eff.get("runAsNonRoot"))
    R.check(isinstance(eff.get("runAsUser"), int) and eff.get("runAsUser") != 0,
            "%s: runAsUser is a non-root uid" % where, eff.get("runAsUser"))
    if ctx["uid"] is not None and sc.get("defaults_security", True):
        R.check(eff.get("runAsUser") == ctx["uid"],
                "%s: runAsUser is the Dockerfile's USER %s" % (where, ctx["uid"]),
                eff.get("runAsUser"))
    R.check(csc.get("readOnlyRootFilesystem") is True, "%s: readOnlyRootFilesystem" % where)
    R.check(csc.get("allowPrivilegeEscalation") is False, "%s: allowPrivilegeEscalation false" %
            where)
    caps = csc.get("capabilities") or {}
    R.check(caps.get("drop") == ["ALL"] and not caps.get("add"),
            "%s: capabilities drop ALL, add none" % where, caps)
    R.check((eff.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
            "%s: seccompProfile RuntimeDefault" % where, eff.get("seccompProfile"))
    R.check(not ps.get("hostNetwork") and not ps.get("hostPID") and not csc.get("privileged"),
            "%s: no host namespaces, not privileged" % where)

    # Resources.
    res = c.get("resources") or {}
    R.check(res.get("requests", {}).get("cpu") and res.get("requests", {}).get("memory") and
            res.get("limits", {}).get("memory"),
            "%s: cpu/memory requests and a memory limit" % where, res)
    if sc.get("default_resources"):
        R.check(res == {"requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"memory": "512Mi"}},
                "%s: default resources 50m/64Mi, limit 512Mi" % where, res)

    # Command and flags.
    if ctx["binary_path"]:
        R.check(c.get("command") == [ctx["binary_path"]],
                "%s: command is the Dockerfile's binary %s" % (where, ctx["binary_path"]),
                c.get("command"))
    args = c.get("args") or []
    R.check(args[:1] == ["serve"], "%s: args start with serve" % where, args[:1])
    flags = {}
    for a in args[1:]:
        R.check(isinstance(a, str) and a.startswith("--"), "%s: arg %r is a flag" % (where, a))
        name, _, value = str(a).partition("=")
        R.check(name in ctx["flags"], "%s: %s is a flag of saturation-scaler serve (%s)" %
                (where, name, ctx["flags_from"]))
        flags[name] = value
    R.check(flags.get("--listen") == "[::]:%d" % vals["grpc"]["port"], "%s: --listen" % where,
            flags.get("--listen"))
    R.check(("--kube" in flags) == bool(vals["kube"]["enabled"]),
            "%s: --kube iff kube.enabled" % where)
    R.check(ps.get("automountServiceAccountToken") is bool(vals["kube"]["enabled"]),
            "%s: service-account token mounted iff kube.enabled" % where)

    # Ports and probes.
    ports = {p["name"]: p for p in c.get("ports") or []}
    R.check(ports.get("grpc", {}).get("containerPort") == vals["grpc"]["port"],
            "%s: grpc container port" % where)
    http = vals["http"]["enabled"]
    probes = {k: c.get(k) for k in ("startupProbe", "readinessProbe", "livenessProbe")}
    if http:
        R.check(flags.get("--http-listen") == ":%d" % vals["http"]["port"],
                "%s: --http-listen on the http port" % where, flags.get("--http-listen"))
        R.check(ports.get("http", {}).get("containerPort") == vals["http"]["port"],
                "%s: http container port" % where)
        for kind, path in (("startupProbe", "/healthz"), ("readinessProbe", "/readyz"),
                           ("livenessProbe", "/healthz")):
            p = probes[kind] or {}
            g = p.get("httpGet") or {}
            R.check(g.get("path") == path and g.get("port") in ("http", vals["http"]["port"]) and
                    g.get("scheme", "HTTP") == "HTTP" and "grpc" not in p,
                    "%s: %s is GET %s on the HTTP port" % (where, kind, path), p)
    else:
        R.check(flags.get("--http-listen") == "off", "%s: --http-listen=off" % where)
        R.check("http" not in ports, "%s: no http container port" % where)
        R.check(not any(f.startswith("--tls-") for f in flags),
                "%s: gRPC probes only on a plaintext gRPC port" % where)
        for kind, p in probes.items():
            p = p or {}
            R.check((p.get("grpc") or {}).get("port") == vals["grpc"]["port"] and
                    "httpGet" not in p, "%s: %s is a gRPC probe on the gRPC port" % (where, kind),
                    p)
    for kind, p in probes.items():
        R.check(p and all(isinstance(p.get(k), int) and p[k] > 0
                          for k in ("periodSeconds", "failureThreshold", "timeoutSeconds")),
                "%s: %s has its timings" % (where, kind), p)

    # Volumes and mounts agree; config and TLS come from where they should.
    vols = {v["name"]: v for v in ps.get("volumes") or []}
    mounts = {m["name"]: m for m in c.get("volumeMounts") or []}
    R.check(set(vols) == set(mounts), "%s: every volume is mounted and every mount has a volume" %
            where, (sorted(vols), sorted(mounts)))
    paths = [m["mountPath"] for m in mounts.values()]
    R.check(not any(a != b and b.startswith(a.rstrip("/") + "/") for a in paths for b in paths),
            "%s: no mount inside another" % where, paths)
    has_config = bool(vals.get("config")) or bool(vals.get("existingConfigMap"))
    if has_config:
        cm = (vols.get("config") or {}).get("configMap", {}).get("name")
        R.check(cm is not None, "%s: config volume from a ConfigMap" % where)
        if vals.get("existingConfigMap"):
            R.check(cm == vals["existingConfigMap"], "%s: config volume from existingConfigMap" %
                    where, cm)
        cfg = flags.get("--config", "")
        R.check(cfg == mounts.get("config", {}).get("mountPath", "?") + "/config.json",
                "%s: --config is the mounted config.json" % where, cfg)
    else:
        R.check("--config" not in flags and "config" not in vols, "%s: no --config" % where)
    tls = vals["tls"]
    if tls["enabled"]:
        sv = (vols.get("tls") or {}).get("secret") or {}
        R.check(sv.get("secretName") == tls["secretName"], "%s: TLS volume from the Secret" %
                where, sv)
        keys = sorted(i["key"] for i in sv.get("items") or [])
        want = sorted(["tls.crt", "tls.key"] + (["ca.crt"] if tls["mutual"] else []))
        R.check(keys == want, "%s: TLS Secret keys %s" % (where, want), keys)
        mp = mounts.get("tls", {}).get("mountPath")
        R.check(mounts.get("tls", {}).get("readOnly") is True, "%s: TLS mount read-only" % where)
        R.check(flags.get("--tls-cert-file") == "%s/tls.crt" % mp and
                flags.get("--tls-key-file") == "%s/tls.key" % mp,
                "%s: --tls-cert-file/--tls-key-file from the mount" % where)
        R.check((flags.get("--tls-client-ca-file") == "%s/ca.crt" % mp) if tls["mutual"] else
                "--tls-client-ca-file" not in flags,
                "%s: --tls-client-ca-file iff tls.mutual" % where)
    else:
        R.check("tls" not in vols and not any(f.startswith("--tls-") for f in flags),
                "%s: no TLS without tls.enabled" % where)

    # Anti-affinity.
    aff = ps.get("affinity") or {}
    paa = aff.get("podAntiAffinity") or {}
    mode = vals.get("antiAffinity")
    if vals.get("affinity"):
        R.check(aff == vals["affinity"], "%s: affinity is the value given" % where)
    elif mode == "soft":
        terms = paa.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        R.check(len(terms) == 1 and terms[0]["podAffinityTerm"]["topologyKey"] ==
                "kubernetes.io/hostname" and
                subset(terms[0]["podAffinityTerm"]["labelSelector"]["matchLabels"], pod_labels) and
                "requiredDuringSchedulingIgnoredDuringExecution" not in paa,
                "%s: preferred pod anti-affinity by hostname" % where, paa)
    elif mode == "hard":
        terms = paa.get("requiredDuringSchedulingIgnoredDuringExecution") or []
        R.check(len(terms) == 1 and terms[0]["topologyKey"] == "kubernetes.io/hostname" and
                subset(terms[0]["labelSelector"]["matchLabels"], pod_labels),
                "%s: required pod anti-affinity by hostname" % where, paa)
    else:
        R.check(not aff, "%s: no affinity" % where, aff)
    return d


def check_services(objs, sc, vals, dep, release_ns, fullname):
    where = sc["name"]
    pod = dep["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    cports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
    svcs = find(objs, "Service")
    for s in svcs:
        R.check(subset(s["spec"]["selector"], pod_labels),
                "%s: Service %s selects the pods" % (where, s["metadata"]["name"]))
        for p in s["spec"]["ports"]:
            R.check(p.get("targetPort") in cports, "%s: Service %s port %s targets a named "
                    "container port" % (where, s["metadata"]["name"], p.get("name")))
    grpc = find(objs, "Service", fullname)
    if R.check(len(grpc) == 1, "%s: the gRPC Service is named %s" % (where, fullname)):
        g = grpc[0]
        R.check(g["spec"].get("clusterIP") == "None", "%s: gRPC Service is headless" % where)
        R.check([(p["name"], p["port"]) for p in g["spec"]["ports"]] ==
                [("grpc", vals["grpc"]["port"])], "%s: gRPC Service has the grpc port only" %
                where, g["spec"]["ports"])
    http = [s for s in svcs if s["metadata"]["name"] != fullname]
    if vals["http"]["enabled"]:
        if R.check(len(http) == 1, "%s: one HTTP Service" % where, len(http)):
            h = http[0]
            R.check(h["spec"].get("clusterIP") != "None" and
                    h["spec"].get("type") == "ClusterIP", "%s: HTTP Service is ClusterIP" % where)
            R.check([(p["name"], p["port"], p["targetPort"]) for p in h["spec"]["ports"]] ==
                    [("http", vals["http"]["port"], "http")],
                    "%s: HTTP Service has the http port" % where, h["spec"]["ports"])
    else:
        R.check(not http, "%s: no HTTP Service without http.enabled" % where)
    return grpc[0] if grpc else None, http[0] if len(http) == 1 else None


def check_extras(objs, sc, vals, dep, http_svc, grpc_svc, release_ns, binary, tmp):
    where = sc["name"]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    sms = find(objs, "ServiceMonitor")
    if vals["serviceMonitor"]["enabled"]:
        if R.check(len(sms) == 1 and http_svc is not None, "%s: one ServiceMonitor" % where):
            sm = sms[0]
            sel = sm["spec"]["selector"]["matchLabels"]
            R.check(subset(sel, http_svc["metadata"]["labels"]),
                    "%s: ServiceMonitor selects the HTTP Service" % where, sel)
            R.check(grpc_svc is None or not subset(sel, grpc_svc["metadata"]["labels"]),
                    "%s: ServiceMonitor does not select the gRPC Service" % where)
            R.check(release_ns in sm["spec"]["namespaceSelector"]["matchNames"],
                    "%s: ServiceMonitor looks in the release namespace" % where)
            eps = sm["spec"]["endpoints"]
            R.check(len(eps) == 1 and eps[0]["port"] == "http" and eps[0]["path"] == "/metrics",
                    "%s: ServiceMonitor scrapes http /metrics" % where, eps)
            for k, v in (vals["serviceMonitor"].get("labels") or {}).items():
                R.check(sm["metadata"]["labels"].get(k) == v,
                        "%s: ServiceMonitor carries label %s" % (where, k))
    else:
        R.check(not sms, "%s: no ServiceMonitor by default" % where)
    pdbs = find(objs, "PodDisruptionBudget")
    if vals["podDisruptionBudget"]["enabled"]:
        if R.check(len(pdbs) == 1, "%s: one PodDisruptionBudget" % where):
            p = pdbs[0]["spec"]
            R.check(subset(p["selector"]["matchLabels"], pod_labels),
                    "%s: PodDisruptionBudget selects the pods" % where)
            R.check(("minAvailable" in p) != ("maxUnavailable" in p),
                    "%s: PodDisruptionBudget sets minAvailable or maxUnavailable" % where, p)
    else:
        R.check(not pdbs, "%s: no PodDisruptionBudget by default" % where)
    cms = find(objs, "ConfigMap")
    if vals.get("config") and not vals.get("existingConfigMap"):
        if R.check(len(cms) == 1, "%s: one ConfigMap" % where):
            cm = cms[0]
            vol = [v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "config"]
            R.check(vol and vol[0]["configMap"]["name"] == cm["metadata"]["name"],
                    "%s: the config volume is the rendered ConfigMap" % where)
            text = cm["data"].get("config.json", "")
            try:
                cfg = json.loads(text)
            except ValueError as e:
                cfg = None
                R.check(False, "%s: config.json is JSON" % where, e)
            R.check(cfg == vals["config"], "%s: config.json is the config value" % where)
            ann = dep["spec"]["template"]["metadata"].get("annotations") or {}
            if vals.get("rollOnConfigChange"):
                R.check(re.match(r"^[0-9a-f]{64}$", ann.get("checksum/config", "")),
                        "%s: pods roll on a config change (checksum/config)" % where)
            else:  # reloaded in place: a config change must not restart pods
                R.check("checksum/config" not in ann,
                        "%s: no checksum/config unless rollOnConfigChange" % where)
            if binary and cfg is not None:
                check_config_with_binary(cfg, where, binary, tmp)
    else:
        R.check(not cms, "%s: no ConfigMap without config" % where)


def check_config_with_binary(cfg, where, binary, tmp):
    """`saturation-scaler check-config` on the rendered file; the *File paths it names
    (Secrets in a cluster) are replaced by empty files here."""
    cfg = copy.deepcopy(cfg)
    n = [0]

    def swap(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k.endswith("File") and isinstance(v, str):
                    n[0] += 1
                    path = os.path.join(tmp, "file-%d" % n[0])
                    with open(path, "w") as f:
                        f.write("x\n")
                    node[k] = path
                else:
                    swap(v)
        elif isinstance(node, list):
            for v in node:
                swap(v)
    swap(cfg)
    path = os.path.join(tmp, "config-%s.json" % re.sub(r"\W", "_", where))
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.run([binary, "check-config", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    R.check(p.returncode == 0, "%s: saturation-scaler check-config accepts config.json" % where,
            p.stdout.strip())


def check_notes(files, sc, vals, grpc_svc, release_ns, fullname):
    where = sc["name"]
    notes = [v for k, v in files.items() if k.endswith("/NOTES.txt")]
    if not R.check(len(notes) == 1, "%s: NOTES.txt renders" % where):
        return
    text = notes[0]
    b, e = NOTES_BEGIN.search(text), NOTES_END.search(text)
    if not R.check(b and e and b.end() < e.start(), "%s: NOTES.txt has the ScaledObject block" %
                   where):
        return
    docs = load_all(text[b.end():e.start()], "%s NOTES.txt block" % where)
    if docs is None:
        return
    sos = [d for d in docs if d.get("kind") == "ScaledObject"]
    if not R.check(len(sos) == 1, "%s: NOTES.txt shows one ScaledObject" % where):
        return
    so = sos[0]
    R.check(so.get("apiVersion") == "keda.sh/v1alpha1", "%s: NOTES ScaledObject apiVersion" %
            where)
    trig = (so.get("spec", {}).get("triggers") or [{}])[0]
    addr = "%s.%s.svc.%s:%d" % (fullname, release_ns, vals["clusterDomain"], vals["grpc"]["port"])
    R.check(trig.get("type") == "external", "%s: NOTES trigger is external" % where)
    R.check(trig.get("metadata", {}).get("scalerAddress") == addr,
            "%s: NOTES scalerAddress is the headless Service's DNS name %s" % (where, addr),
            trig.get("metadata", {}).get("scalerAddress"))
    R.check(grpc_svc is not None and grpc_svc["metadata"]["name"] == fullname and
            grpc_svc["metadata"]["namespace"] == release_ns,
            "%s: scalerAddress names the rendered gRPC Service" % where)
    R.check("metricType" not in trig and "metricType" not in trig.get("metadata", {}),
            "%s: NOTES leaves metricType unset" % where)
    R.check(re.search(r"metricType: Value .*multiply", text, re.S) and
            "AverageValue" in text, "%s: NOTES warns that Value multiplies by the pod count" %
            where)
    beh = so["spec"].get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get(
        "behavior", {})
    check_behavior(beh, "%s: NOTES ScaledObject" % where)
    tas = [d for d in docs if d.get("kind") == "TriggerAuthentication"]
    if vals["tls"]["enabled"]:
        params = sorted(r["parameter"] for r in (tas[0]["spec"]["secretTargetRef"]
                                                  if tas else []))
        want = sorted(["caCert"] + (["tlsClientCert", "tlsClientKey"] if vals["tls"]["mutual"]
                                    else []))
        R.check(params == want, "%s: NOTES TriggerAuthentication has %s" % (where, want), params)
        R.check(tas and trig.get("authenticationRef", {}).get("name") ==
                tas[0]["metadata"]["name"], "%s: NOTES trigger refers to it" % where)
    else:
        R.check(not tas and "authenticationRef" not in trig,
                "%s: NOTES without TLS has no TriggerAuthentication" % where)
    if vals["kube"]["enabled"]:
        ann = so["metadata"].get("annotations") or {}
        R.check(ann.get("llm-d.ai/managed") == "true" and "llm-d.ai/model-id" in ann,
                "%s: NOTES shows the llm-d.ai/managed annotations" % where, ann)
    else:
        R.check("modelID" in trig.get("metadata", {}), "%s: NOTES trigger names modelID" % where)


def check_behavior(beh, where):
    """The HPA behaviour the examples and NOTES use: scale-up lets a tolerance-sized
    step (10 -> 12, 20 -> 23, ...) through in one period; scale-down is stabilised."""
    up = beh.get("scaleUp") or {}
    pol = up.get("policies") or []
    kinds = {(p.get("type"), p.get("value")) for p in pol}
    R.check(up.get("stabilizationWindowSeconds") == 0 and up.get("selectPolicy") == "Max" and
            ("Percent", 100) in kinds and any(t == "Pods" and v >= 4 for t, v in kinds) and
            all(p.get("periodSeconds") == 15 for p in pol),
            "%s: scaleUp Percent 100 / Pods 4 per 15s, Max, no window" % where, up)
    R.check((beh.get("scaleDown") or {}).get("stabilizationWindowSeconds") == 300,
            "%s: scaleDown stabilised 300s" % where, beh.get("scaleDown"))


def fullname_of(vals, release, chart_name):
    if vals.get("fullnameOverride"):
        return vals["fullnameOverride"][:63].rstrip("-")
    name = vals.get("nameOverride") or chart_name
    if name in release:
        return release[:63].rstrip("-")
    return ("%s-%s" % (release, name))[:63].rstrip("-")


# ---- scenarios -------------------------------------------------------------------------

SCENARIOS = [
    {"name": "defaults", "release": "saturation-scaler", "namespace": "keda", "files": [],
     "default_resources": True},
    {"name": "defaults as release prod", "release": "prod", "namespace": "keda", "files": []},
    {"name": "kube-off", "release": "saturation-scaler", "namespace": "keda",
     "files": ["kube-off.yaml"]},
    {"name": "namespaced-rbac", "release": "saturation-scaler", "namespace": "keda",
     "files": ["namespaced-rbac.yaml"]},
    {"name": "tls-mutual", "release": "saturation-scaler", "namespace": "keda",
     "files": ["tls-mutual.yaml"]},
    {"name": "tls-server-only", "release": "saturation-scaler", "namespace": "keda",
     "overlay": {"tls": {"enabled": True, "secretName": "scaler-tls"}}},
    {"name": "http-off", "release": "saturation-scaler", "namespace": "keda",
     "files": ["http-off.yaml"]},
    {"name": "production", "release": "prod", "namespace": "autoscaling",
     "files": ["production.yaml"]},
    {"name": "existingConfigMap", "release": "saturation-scaler", "namespace": "keda",
     "overlay": {"existingConfigMap": "my-scaler-config", "config": {"defaults": {
         "kvCacheThreshold": 0.9}}}},
    {"name": "pdb maxUnavailable", "release": "saturation-scaler", "namespace": "keda",
     "overlay": {"podDisruptionBudget": {"enabled": True, "minAvailable": None,
                                         "maxUnavailable": 1}, "antiAffinity": ""}},
]

# Values the chart must refuse, and a piece of the message it must give.
REFUSED = [
    ({"tls": {"enabled": True}}, "tls.enabled needs tls.secretName"),
    ({"tls": {"enabled": True, "secretName": "s"}, "http": {"enabled": False}},
     "cannot speak TLS"),
    ({"tls": {"mutual": True}}, "tls.mutual needs tls.enabled"),
    ({"serviceMonitor": {"enabled": True}, "http": {"enabled": False}},
     "serviceMonitor.enabled needs http.enabled"),
    ({"podDisruptionBudget": {"enabled": True, "maxUnavailable": 1}}, "not both"),
    ({"antiAffinity": "sometimes"}, "must be soft, hard"),
    ({"rbac": {"namespaced": True}}, "rbac.namespaced=true needs rbac.namespaces"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("chart", help="the chart's directory (charts/saturation-scaler)")
    ap.add_argument("--binary", help="saturation-scaler, to check flags and check-config")
    opts = ap.parse_args()
    chart = os.path.abspath(opts.chart)
    top = os.path.dirname(os.path.dirname(chart))

    missing = []
    if yaml is None:
        missing.append("python3-yaml")
    if shutil.which("go") is None:
        missing.append("golang-go")
    for pkg, d in (("golang-github-masterminds-sprig-dev", "github.com/Masterminds/sprig"),
                   ("golang-k8s-sigs-yaml-dev", "sigs.k8s.io/yaml")):
        if not os.path.isdir(os.path.join(GOPATH, "src", d)):
            missing.append(pkg)
    if missing:
        print("check.py: missing Debian packages: %s (test/build.sh installs them; by hand: "
              "apt-get install -y --no-install-recommends %s)" % (", ".join(missing),
                                                                  " ".join(missing)))
        print("0 passed, 1 failed")
        return 1

    uid, binary_path = dockerfile_facts(os.path.join(top, "Dockerfile"))
    flags, flags_from = binary_flags(opts.binary, os.path.join(top, "README.md"))
    ctx = {"uid": uid, "binary_path": binary_path, "flags": flags, "flags_from": flags_from}

    tmp = tempfile.mkdtemp(prefix="sat-chart-")
    try:
        R.section("values files")
        values_files = [os.path.join(chart, "values.yaml")] + sorted(
            os.path.join(HERE, "values", f) for f in os.listdir(os.path.join(HERE, "values"))
            if f.endswith(".yaml"))
        for f in values_files + [os.path.join(chart, "Chart.yaml")]:
            v = load_file(f)
            R.check(isinstance(v, dict), "%s parses to a mapping" % os.path.relpath(f, top))
        check_values_documented(os.path.join(chart, "values.yaml"))
        R.check(flags, "flags of saturation-scaler serve known (%s)" % flags_from)
        R.check(uid is not None and binary_path, "Dockerfile: USER uid and binary path",
                (uid, binary_path))
        chart_name = (load_file(os.path.join(chart, "Chart.yaml")) or {}).get("name")

        R.section("build the renderer (Go text/template + sprig, Debian packages)")
        renderer = build_renderer(tmp)
        if not R.check(renderer, "test/chart/render/main.go builds"):
            print("%d passed, %d failed" % (R.passed, R.failed))
            return 1
        render = Render(renderer, chart, tmp)

        for sc in SCENARIOS:
            R.section("scenario %s (release %s, namespace %s)" % (sc["name"], sc["release"],
                                                                  sc["namespace"]))
            vfiles = [os.path.join(HERE, "values", f) for f in sc.get("files", [])]
            files, err = render(sc["release"], sc["namespace"], vfiles, sc.get("overlay"))
            if not R.check(files is not None, "%s: renders" % sc["name"], err):
                continue
            vals = merged_values(chart, vfiles, sc.get("overlay"))
            fullname = fullname_of(vals, sc["release"], chart_name)
            objs = objects_of(files, sc["name"])
            check_objects(objs, sc)
            sas = find(objs, "ServiceAccount")
            R.check(len(sas) == 1, "%s: one ServiceAccount" % sc["name"])
            sa_name = sas[0]["metadata"]["name"] if sas else None
            dep = check_deployment(objs, sc, vals, ctx)
            if dep is None:
                continue
            R.check(dep["spec"]["template"]["spec"].get("serviceAccountName") == sa_name,
                    "%s: pods run as the chart's ServiceAccount" % sc["name"])
            check_rbac(objs, sc, vals, sa_name, sc["namespace"])
            grpc_svc, http_svc = check_services(objs, sc, vals, dep, sc["namespace"], fullname)
            check_extras(objs, sc, vals, dep, http_svc, grpc_svc, sc["namespace"], opts.binary,
                         tmp)
            check_notes(files, sc, vals, grpc_svc, sc["namespace"], fullname)
            print("   %d objects: %s" % (len(objs), ", ".join(
                "%s/%s" % (o["kind"], o["metadata"]["name"]) for o in objs)))

        R.section("values the chart refuses")
        for overlay, msg in REFUSED:
            files, err = render("saturation-scaler", "keda", (), overlay)
            R.check(files is None and err and msg in err,
                    "refuses %s with %r" % (json.dumps(overlay), msg), err or "rendered")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("%d passed, %d failed" % (R.passed, R.failed))
    return 0 if R.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
