#!/usr/bin/python3
"""fakekube: a small fake Kubernetes API server for the integration tests.

Standard library only (http.server + ssl), run with /usr/bin/python3. It
serves, over TLS with a bearer token, the objects the scaler's `--kube` mode
reads, with the JSON shapes the real API server returns:

- keda.sh/v1alpha1 scaledobjects (get, list, watch; namespaced and
  cluster-wide lists, kind ScaledObjectList);
- apps/v1 deployments (+ /scale, /status), replicasets (+ /scale),
  statefulsets (+ /scale);
- leaderworkerset.x-k8s.io/v1 leaderworkersets (+ /scale, /status);
- v1 pods (+ /status);
- /version, /healthz, /readyz, /livez.

Lists honour labelSelector (=, ==, !=, in, notin, exists, !exists),
fieldSelector (metadata.name, metadata.namespace; pods also status.phase and
spec.nodeName), limit and continue. Watches (?watch=true) stream ADDED /
MODIFIED / DELETED events as chunked JSON lines, from resourceVersion when
given, else synthetic ADDED events for what exists first, until
timeoutSeconds (default 30) or the server stops. Items of CRD lists carry
kind and apiVersion, items of built-in lists do not (as the real server).
The status of Deployments, ReplicaSets and LeaderWorkerSets omits zero
counts (readyReplicas 0 is absent), as the real API's omitempty does.

Errors are `Status` objects as the real server sends them: 401 Unauthorized
for a missing or wrong bearer token; 403 Forbidden (the RBAC message) for a
request the chart's RBAC would refuse (RBAC_RULES, on by default) or a
forced fault; 404 NotFound (`scaledobjects.keda.sh "x" not found`); 405 for
anything but GET; 400 for a bad selector.

Tests mutate an in-memory store (put / patch / delete and the builders
below), force faults per path (fault(): a status code, a delay, or both,
optionally a limited number of times), change the accepted token
(set_token), read a request log (requests(), count(), mark()) to assert
caching, and stop / restart the server on the same port to simulate an API
server that goes away.

Builders return plain dicts shaped like the API's objects (metadata with
uid, resourceVersion, creationTimestamp, managedFields, labels and
annotations): scaled_object(), deployment(), replica_set(), pod(),
leader_worker_set(), stateful_set(), lws_pod(); FakeKube.add_deployment()
and FakeKube.add_lws() store a whole owner chain in one call.

Run by hand, `fakekube.py [--port N] [--dir D]` serves a small demo store
and prints the flags to give the scaler.
"""

import base64
import copy
import http.server
import json
import os
import re
import secrets
import shutil
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

# The identity the scaler's service account has in RBAC messages.
SERVICE_ACCOUNT_USER = "system:serviceaccount:keda:saturation-scaler"

# Exactly what charts/saturation-scaler grants (templates/rbac.yaml): the
# fake refuses anything else with the 403 the real API server would send, so
# a scaler that needs more than the chart gives fails here and not in a
# cluster. test_kube.py checks the chart's rules against this list.
RBAC_RULES = [
    {"apiGroups": ["keda.sh"], "resources": ["scaledobjects"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale", "replicasets"],
     "verbs": ["get"]},
    {"apiGroups": ["leaderworkerset.x-k8s.io"],
     "resources": ["leaderworkersets", "leaderworkersets/scale"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
]

# Labels and annotations the scaler reads.
MANAGED = "llm-d.ai/managed"
MODEL_ID = "llm-d.ai/model-id"
VARIANT_COST = "llm-d.ai/variant-cost"
ROLE = "llm-d.ai/role"

KUBE_VERSION = {
    "major": "1", "minor": "33", "gitVersion": "v1.33.2",
    "gitCommit": "a57b6f7709f6c2722b92f07b8b4c48210a51fc40",
    "gitTreeState": "clean", "buildDate": "2025-06-17T18:32:52Z", "goVersion": "go1.24.4",
    "compiler": "gc", "platform": "linux/amd64",
}


class Resource:
    """One API resource: where it lives and what its objects look like."""

    def __init__(self, group, version, plural, kind, crd, subresources):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.crd = crd                    # items of lists carry kind/apiVersion
        self.subresources = subresources  # ("scale", "status")

    @property
    def api_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def qualified(self):
        """`deployments.apps`, `pods`: how the API names it in messages."""
        return "%s.%s" % (self.plural, self.group) if self.group else self.plural


RESOURCES = [
    Resource("", "v1", "pods", "Pod", False, ("status",)),
    Resource("apps", "v1", "deployments", "Deployment", False, ("scale", "status")),
    Resource("apps", "v1", "replicasets", "ReplicaSet", False, ("scale", "status")),
    Resource("apps", "v1", "statefulsets", "StatefulSet", False, ("scale", "status")),
    Resource("leaderworkerset.x-k8s.io", "v1", "leaderworkersets", "LeaderWorkerSet", True,
             ("scale", "status")),
    Resource("keda.sh", "v1alpha1", "scaledobjects", "ScaledObject", True, ("status",)),
]
_BY_KIND = {r.kind: r for r in RESOURCES}
_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}


def resource_for(kind_or_obj):
    """The Resource of a kind name ("Deployment") or of an object."""
    kind = kind_or_obj["kind"] if isinstance(kind_or_obj, dict) else kind_or_obj
    r = _BY_KIND.get(kind)
    if r is None:
        raise KeyError("fakekube serves no kind %r" % kind)
    return r


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def status(code, reason, message, details=None):
    """A metav1.Status as the API server sends it for a failure."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 422: "Invalid",
           429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
           504: "Timeout"}


# ---- TLS material ---------------------------------------------------------------

def _openssl(d, *args):
    p = subprocess.run(["openssl"] + list(args), cwd=d, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed:\n%s" % (" ".join(args), p.stderr))


def make_pki(d):
    """A CA and a server certificate for 127.0.0.1 / localhost /
    kubernetes.default.svc in d; returns (ca.crt, apiserver.crt,
    apiserver.key) paths. Reuses files already there."""
    ca, crt, key = (os.path.join(d, n) for n in ("ca.crt", "apiserver.crt", "apiserver.key"))
    if all(os.path.exists(p) for p in (ca, crt, key)):
        return ca, crt, key
    os.makedirs(d, exist_ok=True)
    _openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=fakekube-ca", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(os.path.join(d, "apiserver.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,"
                "DNS:kubernetes.default,DNS:kubernetes.default.svc,"
                "DNS:kubernetes.default.svc.cluster.local\n")
    _openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver")
    _openssl(d, "x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "apiserver.crt", "-days", "2",
             "-extfile", "apiserver.ext")
    return ca, crt, key


# ---- selectors --------------------------------------------------------------------

class SelectorError(ValueError):
    pass


def _split_top(s):
    """Split on commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


_SET_RE = re.compile(r"^([A-Za-z0-9._/-]+)\s+(in|notin)\s+\(([^()]*)\)$")
_EQ_RE = re.compile(r"^([A-Za-z0-9._/-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)$")
_KEY_RE = re.compile(r"^(!?)([A-Za-z0-9._/-]+)$")


def parse_label_selector(s):
    """A predicate over a labels dict, for labelSelector s."""
    reqs = []
    for part in _split_top(s or ""):
        m = _SET_RE.match(part)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if op == "in":
                reqs.append(lambda l, k=key, v=vals: l.get(k) in v)
            else:
                reqs.append(lambda l, k=key, v=vals: l.get(k) not in v)
            continue
        m = _EQ_RE.match(part)
        if m:
            key, op, val = m.groups()
            if op == "!=":
                reqs.append(lambda l, k=key, v=val: l.get(k) != v)
            else:
                reqs.append(lambda l, k=key, v=val: l.get(k) == v)
            continue
        m = _KEY_RE.match(part)
        if m:
            neg, key = m.groups()
            reqs.append((lambda l, k=key: k not in l) if neg else (lambda l, k=key: k in l))
            continue
        raise SelectorError("unable to parse requirement: %s" % part)
    return lambda labels: all(r(labels or {}) for r in reqs)


def _field(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    return "" if cur is None else str(cur)


def parse_field_selector(s, res):
    allowed = {"metadata.name", "metadata.namespace"}
    if res.plural == "pods":
        allowed |= {"status.phase", "spec.nodeName"}
    reqs = []
    for part in _split_top(s or ""):
        m = re.match(r"^([A-Za-z.]+)\s*(==|!=|=)\s*(.*)$", part)
        if not m:
            raise SelectorError("invalid selector: '%s'; can't understand '%s'" % (s, part))
        key, op, val = m.groups()
        if key not in allowed:
            raise SelectorError('"%s" is not a known field selector: only "%s"'
                                % (key, '", "'.join(sorted(allowed))))
        if op == "!=":
            reqs.append(lambda o, k=key, v=val: _field(o, k) != v)
        else:
            reqs.append(lambda o, k=key, v=val: _field(o, k) == v)
    return lambda obj: all(r(obj) for r in reqs)


# ---- object builders ----------------------------------------------------------------

def _uid():
    return str(uuid.uuid4())


def _fields(keys):
    """A FieldsV1 set {"f:a": {}, ...} for a managedFields entry."""
    return {"f:" + k: {} for k in keys}


def managed_fields(manager, api_version, spec_keys=(), status_keys=(), operation="Update"):
    """A plausible managedFields list: the writer of spec/metadata, and the
    controller that writes status (subresource status)."""
    t = now_rfc3339()
    out = []
    if spec_keys:
        out.append({"manager": manager, "operation": operation, "apiVersion": api_version,
                    "time": t, "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {".": {}}},
                                 "f:spec": _fields(spec_keys)}})
    if status_keys:
        out.append({"manager": "kube-controller-manager", "operation": "Update",
                    "apiVersion": api_version, "time": t, "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:status": _fields(status_keys)}, "subresource": "status"})
    return out


def _meta(name, namespace, labels=None, annotations=None, owner=None, generate_name=None):
    m = {"name": name, "namespace": namespace, "uid": _uid(), "resourceVersion": "1",
         "generation": 1, "creationTimestamp": now_rfc3339()}
    if generate_name:
        m["generateName"] = generate_name
    if labels:
        m["labels"] = dict(labels)
    if annotations:
        m["annotations"] = dict(annotations)
    if owner is not None:
        m["ownerReferences"] = [owner_ref(owner)]
    return m


def owner_ref(owner, controller=True):
    """An ownerReference to a stored (or built) object."""
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": controller, "blockOwnerDeletion": True}


def _nonzero(d):
    """Drop zero / empty values: the API's omitempty on status counts."""
    return {k: v for k, v in d.items() if v not in (0, None, "", [], {})}


def _condition(ctype, ok, reason, message, t=None, extra=None):
    t = t or now_rfc3339()
    c = {"type": ctype, "status": "True" if ok else "False", "reason": reason,
         "message": message, "lastTransitionTime": t}
    c.update(extra or {})
    return c


def vllm_container(model="ibm/granite-13b", image="vllm/vllm-openai:v0.10.1"):
    return {"name": "vllm", "image": image, "imagePullPolicy": "IfNotPresent",
            "args": ["--model", model, "--port", "8000"],
            "ports": [{"name": "http", "containerPort": 8000, "protocol": "TCP"}],
            "resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}},
            "readinessProbe": {"httpGet": {"path": "/health", "port": 8000, "scheme": "HTTP"},
                               "periodSeconds": 5, "timeoutSeconds": 1, "successThreshold": 1,
                               "failureThreshold": 3},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File"}


def _pod_spec(model):
    return {"containers": [vllm_container(model)], "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "serviceAccount": "default",
            "securityContext": {}, "schedulerName": "default-scheduler"}


def scaled_object(name, namespace, target, kind=None, api_version=None, model_id=None, cost=None,
                  managed="true", annotations=None, min_replicas=None, max_replicas=None,
                  trigger_metadata=None, trigger_type="external",
                  scaler_address="saturation-scaler.keda.svc.cluster.local:6000"):
    """A KEDA ScaledObject. managed / model_id / cost become the llm-d.ai
    annotations (None leaves one out; cost is written as given, as a
    string); target is the scaleTargetRef name, kind / api_version are left
    out when None (KEDA's defaults: Deployment, apps/v1)."""
    ann = {}
    if managed is not None:
        ann[MANAGED] = managed
    if model_id is not None:
        ann[MODEL_ID] = model_id
    if cost is not None:
        ann[VARIANT_COST] = str(cost)
    ann.update(annotations or {})
    ref = {"name": target}
    if kind is not None:
        ref["kind"] = kind
    if api_version is not None:
        ref["apiVersion"] = api_version
    md = {"scalerAddress": scaler_address}
    md.update(trigger_metadata or {})
    spec = {"scaleTargetRef": ref, "triggers": [{"type": trigger_type, "metadata": md}]}
    if min_replicas is not None:
        spec["minReplicaCount"] = min_replicas
    if max_replicas is not None:
        spec["maxReplicaCount"] = max_replicas
    tkind = kind or "Deployment"
    tapi = api_version or "apps/v1"
    tgroup = tapi.split("/")[0] if "/" in tapi else ""
    tres = {"Deployment": "deployments", "LeaderWorkerSet": "leaderworkersets",
            "StatefulSet": "statefulsets"}.get(tkind, tkind.lower() + "s")
    t = now_rfc3339()
    obj = {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": _meta(name, namespace, labels={"scaledobject.keda.sh/name": name},
                          annotations=ann),
        "spec": spec,
        "status": {
            "scaleTargetKind": "%s.%s" % (tapi, tkind),
            "scaleTargetGVKR": {"group": tgroup, "kind": tkind, "resource": tres,
                                "version": tapi.split("/")[-1]},
            "originalReplicaCount": 1,
            "externalMetricNames": ["s0-saturation-desired-replicas"],
            "hpaName": "keda-hpa-" + name,
            "conditions": [
                _condition("Ready", True, "ScaledObjectReady",
                           "ScaledObject is defined correctly and is ready for scaling", t),
                _condition("Active", True, "ScalerActive", "Scaling is performed because "
                           "triggers are active", t),
                _condition("Fallback", False, "NoFallbackFound",
                           "No fallbacks are active on this scaled object", t),
                {"type": "Paused", "status": "Unknown"},
            ],
        },
    }
    obj["metadata"]["finalizers"] = ["finalizer.keda.sh"]
    obj["metadata"]["managedFields"] = [
        {"manager": "kubectl-client-side-apply", "operation": "Update",
         "apiVersion": "keda.sh/v1alpha1", "time": t, "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:annotations": _fields(sorted(ann))},
                      "f:spec": _fields(sorted(spec))}},
        {"manager": "keda", "operation": "Update", "apiVersion": "keda.sh/v1alpha1", "time": t,
         "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:finalizers": {}, "f:labels": {}}}},
        {"manager": "keda", "operation": "Update", "apiVersion": "keda.sh/v1alpha1", "time": t,
         "fieldsType": "FieldsV1", "fieldsV1": {"f:status": _fields(
             ["conditions", "externalMetricNames", "hpaName", "originalReplicaCount",
              "scaleTargetGVKR", "scaleTargetKind"])}, "subresource": "status"},
    ]
    return obj


def deployment(name, namespace, replicas=1, ready=None, spec_replicas=None, role=None,
               template_labels=None, labels=None, model="ibm/granite-13b", updated=None,
               available=None):
    """An apps/v1 Deployment whose status says replicas / ready (ready
    defaults to replicas); spec.replicas defaults to replicas. role puts
    llm-d.ai/role on the pod template."""
    ready = replicas if ready is None else ready
    spec_replicas = replicas if spec_replicas is None else spec_replicas
    updated = replicas if updated is None else updated
    available = ready if available is None else available
    selector = {"app.kubernetes.io/name": name}
    tl = dict(selector)
    tl["llm-d.ai/inferenceServing"] = "true"
    if role is not None:
        tl[ROLE] = role
    tl.update(template_labels or {})
    t = now_rfc3339()
    conds = [
        _condition("Available", available >= 1 or spec_replicas == 0,
                   "MinimumReplicasAvailable" if available >= 1 or spec_replicas == 0
                   else "MinimumReplicasUnavailable",
                   "Deployment has minimum availability." if available >= 1 or spec_replicas == 0
                   else "Deployment does not have minimum availability.", t,
                   {"lastUpdateTime": t}),
        _condition("Progressing", True,
                   "NewReplicaSetAvailable" if ready == replicas else "ReplicaSetUpdated",
                   'ReplicaSet "%s-%s" has %s.' % (name, pod_template_hash(name),
                                                   "successfully progressed" if ready == replicas
                                                   else "is progressing"),
                   t, {"lastUpdateTime": t}),
    ]
    st = _nonzero({"observedGeneration": 1, "replicas": replicas, "updatedReplicas": updated,
                   "readyReplicas": ready, "availableReplicas": available,
                   "unavailableReplicas": max(0, replicas - available)})
    st["conditions"] = conds
    obj = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta(name, namespace, labels=labels or {"app.kubernetes.io/name": name},
                          annotations={"deployment.kubernetes.io/revision": "1"}),
        "spec": {
            "replicas": spec_replicas,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": tl, "creationTimestamp": None},
                         "spec": _pod_spec(model)},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
        },
        "status": st,
    }
    obj["metadata"]["managedFields"] = managed_fields(
        "kubectl-client-side-apply", "apps/v1", ["replicas", "selector", "template", "strategy"],
        sorted(k for k in st if k != "observedGeneration"))
    return obj


def pod_template_hash(name):
    """A stable 9-10 character hash as the Deployment controller makes."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    h = 5381
    for ch in name:
        h = (h * 33 + ord(ch)) & 0xFFFFFFFF
    out = ""
    for _ in range(9):
        out += alphabet[h % len(alphabet)]
        h //= len(alphabet)
    return out


def replica_set(dep, replicas=None, ready=None):
    """The current ReplicaSet of Deployment dep (owned by it)."""
    dmeta, dspec, dst = dep["metadata"], dep["spec"], dep.get("status", {})
    h = pod_template_hash(dmeta["name"])
    replicas = dst.get("replicas", 0) if replicas is None else replicas
    ready = dst.get("readyReplicas", 0) if ready is None else ready
    sel = dict(dspec["selector"]["matchLabels"])
    sel["pod-template-hash"] = h
    tl = dict(dspec["template"]["metadata"]["labels"])
    tl["pod-template-hash"] = h
    st = _nonzero({"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": ready,
                   "availableReplicas": ready, "observedGeneration": 1})
    st.setdefault("replicas", 0)  # the one count ReplicaSetStatus never omits
    obj = {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": _meta("%s-%s" % (dmeta["name"], h), dmeta["namespace"], labels=tl,
                          annotations={"deployment.kubernetes.io/desired-replicas":
                                       str(dspec.get("replicas", 1)),
                                       "deployment.kubernetes.io/max-replicas":
                                       str(dspec.get("replicas", 1) + 1),
                                       "deployment.kubernetes.io/revision": "1"},
                          owner=dep),
        "spec": {"replicas": dspec.get("replicas", 1), "selector": {"matchLabels": sel},
                 "template": {"metadata": {"labels": tl, "creationTimestamp": None},
                              "spec": copy.deepcopy(dspec["template"]["spec"])}},
        "status": st,
    }
    obj["metadata"]["managedFields"] = managed_fields(
        "kube-controller-manager", "apps/v1", ["replicas", "selector", "template"],
        sorted(st))
    return obj


def pod(name, namespace, owner=None, labels=None, phase="Running", ready=True, node="gpu-node-1",
        ip=None, model="ibm/granite-13b", template=None):
    """A v1 Pod; owner (a ReplicaSet or StatefulSet) becomes its controller
    ownerReference and lends it its template labels and spec."""
    lbl = {}
    spec = _pod_spec(model)
    gen = None
    if owner is not None:
        tmpl = template or owner.get("spec", {}).get("template", {})
        lbl.update(tmpl.get("metadata", {}).get("labels", {}))
        if tmpl.get("spec"):
            spec = copy.deepcopy(tmpl["spec"])
        if owner["kind"] == "ReplicaSet":
            gen = owner["metadata"]["name"] + "-"
    lbl.update(labels or {})
    spec["nodeName"] = node
    t = now_rfc3339()
    h = sum(map(ord, name))
    ip = ip or "10.244.%d.%d" % (1 + (h // 250) % 250, 2 + h % 250)
    running = phase == "Running"
    conds = [
        _condition("PodReadyToStartContainers", running, "", "", t),
        _condition("Initialized", True, "", "", t),
        _condition("Ready", running and ready, "" if ready else "ContainersNotReady",
                   "" if ready else "containers with unready status: [vllm]", t),
        _condition("ContainersReady", running and ready, "" if ready else "ContainersNotReady",
                   "" if ready else "containers with unready status: [vllm]", t),
        _condition("PodScheduled", True, "", "", t),
    ]
    for c in conds:  # the API omits empty reason/message
        if not c["reason"]:
            del c["reason"]
        if not c["message"]:
            del c["message"]
        c["lastProbeTime"] = None
    cs = {"name": "vllm", "image": spec["containers"][0]["image"],
          "imageID": "docker.io/vllm/vllm-openai@sha256:" + "0" * 64,
          "containerID": "containerd://" + secrets.token_hex(32), "ready": running and ready,
          "restartCount": 0, "started": running,
          "state": {"running": {"startedAt": t}} if running else
          {"waiting": {"reason": "ContainerCreating"}}}
    obj = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": _meta(name, namespace, labels=lbl, owner=owner, generate_name=gen),
        "spec": spec,
        "status": {"phase": phase, "conditions": conds, "hostIP": "172.18.0.3",
                   "hostIPs": [{"ip": "172.18.0.3"}], "podIP": ip, "podIPs": [{"ip": ip}],
                   "startTime": t, "containerStatuses": [cs], "qosClass": "BestEffort"},
    }
    obj["metadata"]["managedFields"] = managed_fields(
        "kube-controller-manager", "v1", ["containers", "restartPolicy"], [])
    obj["metadata"]["managedFields"].append(
        {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": t,
         "fieldsType": "FieldsV1", "fieldsV1": {"f:status": _fields(
             ["conditions", "containerStatuses", "hostIP", "phase", "podIP", "startTime"])},
         "subresource": "status"})
    return obj


LWS_NAME = "leaderworkerset.sigs.k8s.io/name"


def leader_worker_set(name, namespace, replicas=1, ready=None, spec_replicas=None, size=2,
                      role=None, model="ibm/granite-13b"):
    """A leaderworkerset.x-k8s.io/v1 LeaderWorkerSet (groups of `size` pods)
    whose status says replicas / ready groups; role goes on both pod
    templates."""
    ready = replicas if ready is None else ready
    spec_replicas = replicas if spec_replicas is None else spec_replicas
    tl = {"llm-d.ai/inferenceServing": "true"}
    if role is not None:
        tl[ROLE] = role
    t = now_rfc3339()
    st = _nonzero({"replicas": replicas, "readyReplicas": ready, "updatedReplicas": replicas})
    st["hpaPodSelector"] = "%s=%s,leaderworkerset.sigs.k8s.io/worker-index=0" % (LWS_NAME, name)
    st["conditions"] = [
        _condition("Available", ready == replicas, "AllGroupsReady" if ready == replicas
                   else "GroupsProgressing", "All replicas are ready" if ready == replicas
                   else "Replicas are progressing", t, {"observedGeneration": 1}),
        _condition("Progressing", ready != replicas, "GroupsProgressing",
                   "Replicas are progressing", t, {"observedGeneration": 1}),
    ]
    obj = {
        "apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
        "metadata": _meta(name, namespace),
        "spec": {
            "replicas": spec_replicas,
            "leaderWorkerTemplate": {
                "size": size, "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": {"metadata": {"labels": dict(tl, **{"role": "leader"})},
                                   "spec": _pod_spec(model)},
                "workerTemplate": {"metadata": {"labels": dict(tl, **{"role": "worker"})},
                                   "spec": _pod_spec(model)},
            },
            "rolloutStrategy": {"type": "RollingUpdate",
                                "rollingUpdateConfiguration": {"maxUnavailable": 1,
                                                               "maxSurge": 0}},
            "startupPolicy": "LeaderCreated",
            "networkConfig": {"subdomainPolicy": "Shared"},
        },
        "status": st,
    }
    obj["metadata"]["managedFields"] = [
        {"manager": "kubectl-client-side-apply", "operation": "Update",
         "apiVersion": "leaderworkerset.x-k8s.io/v1", "time": t, "fieldsType": "FieldsV1",
         "fieldsV1": {"f:spec": _fields(["leaderWorkerTemplate", "replicas", "rolloutStrategy",
                                         "startupPolicy"])}},
        {"manager": "lws", "operation": "Update", "apiVersion": "leaderworkerset.x-k8s.io/v1",
         "time": t, "fieldsType": "FieldsV1",
         "fieldsV1": {"f:status": _fields(sorted(st))}, "subresource": "status"},
    ]
    return obj


def stateful_set(lws):
    """The leader StatefulSet of a LeaderWorkerSet (owned by it)."""
    m, ltmpl = lws["metadata"], lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]
    replicas = lws["spec"].get("replicas", 1)
    ready = lws.get("status", {}).get("readyReplicas", 0)
    tl = dict(ltmpl["metadata"]["labels"])
    tl[LWS_NAME] = m["name"]
    tl["leaderworkerset.sigs.k8s.io/worker-index"] = "0"
    st = _nonzero({"replicas": lws.get("status", {}).get("replicas", 0), "readyReplicas": ready,
                   "currentReplicas": replicas, "updatedReplicas": replicas,
                   "availableReplicas": ready, "observedGeneration": 1})
    st.setdefault("replicas", 0)
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": _meta(m["name"], m["namespace"], labels={LWS_NAME: m["name"]}, owner=lws),
        "spec": {"replicas": replicas, "serviceName": m["name"],
                 "selector": {"matchLabels": {LWS_NAME: m["name"],
                                              "leaderworkerset.sigs.k8s.io/worker-index": "0"}},
                 "template": {"metadata": {"labels": tl}, "spec": copy.deepcopy(ltmpl["spec"])},
                 "podManagementPolicy": "Parallel", "updateStrategy": {"type": "RollingUpdate"}},
        "status": st,
    }


def lws_pod(lws, sts, group, ready=True):
    """The leader pod of group `group` (name <lws>-<group>, owned by the
    leader StatefulSet)."""
    name = "%s-%d" % (lws["metadata"]["name"], group)
    extra = {"leaderworkerset.sigs.k8s.io/group-index": str(group),
             "apps.kubernetes.io/pod-index": str(group),
             "statefulset.kubernetes.io/pod-name": name}
    return pod(name, lws["metadata"]["namespace"], owner=sts, labels=extra, ready=ready)


# ---- the server -------------------------------------------------------------------

class _Fault:
    def __init__(self, pattern, code, delay, message, times):
        self.regex = re.compile(pattern)
        self.code = code
        self.delay = delay
        self.message = message
        self.left = times  # None = forever


class _HTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def handle_error(self, request, client_address):
        # TLS handshakes refused by a client, resets: noise for the tests.
        self.fake._note_error(sys.exc_info()[1])


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakekube/1"
    timeout = 30  # an idle keep-alive connection is closed after this

    def setup(self):
        # The TLS handshake runs here, on the connection's own thread.
        self.request.settimeout(10)
        self.request = self.server.ssl_ctx.wrap_socket(self.request, server_side=True)
        self.request.settimeout(self.timeout)
        super().setup()

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.server.fake._serve(self)

    def _refuse_method(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self.server.fake._serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = _refuse_method


class FakeKube:
    """The fake API server. Start with start() (or as a context manager);
    url, ca_file and token_file are what the scaler needs (scaler_args())."""

    def __init__(self, directory=None, token=None, rbac=True, port=0):
        self._own_dir = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix="fakekube-")
        self.ca_file, self._crt, self._keyfile = make_pki(os.path.join(self.dir, "pki"))
        self.token = token or "fakekube-" + secrets.token_hex(16)
        self.token_file = os.path.join(self.dir, "token")
        with open(self.token_file, "w") as f:
            f.write(self.token)
        self._tokens = {self.token}
        self.rbac = RBAC_RULES if rbac is True else rbac
        self.port = port
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._objs = {}
        self._rv = 1000
        self._events = []
        self._faults = []
        self._log = []
        self._errors = []
        self._httpd = None
        self._thread = None
        self._stopping = threading.Event()

    # -- lifecycle --

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def scaler_args(self, token_file=None):
        return ["--kube", "--kube-api-url", self.url, "--kube-token-file",
                token_file or self.token_file, "--kube-ca-file", self.ca_file]

    def start(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self._crt, self._keyfile)
        ctx.set_alpn_protocols(["http/1.1"])
        httpd = _HTTPServer(("127.0.0.1", self.port), _Handler)
        httpd.ssl_ctx = ctx
        httpd.fake = self
        self.port = httpd.server_address[1]
        self._stopping.clear()
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and close the port (watches and delayed requests end
        at once); the store, faults and log are kept for a restart."""
        if self._httpd is None:
            return
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)
        self._httpd = None

    def restart(self):
        """Stop, then serve again on the same port."""
        self.stop()
        return self.start()

    def close(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        if self._httpd is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # -- authentication and faults --

    def set_token(self, *tokens):
        """Accept exactly these bearer tokens from now on."""
        with self._lock:
            self._tokens = set(tokens)

    def fault(self, pattern, code=None, delay=0.0, message=None, times=None):
        """Requests whose path matches the regex pattern wait `delay` seconds,
        then (when code is set) fail with that status; `times` limits how
        many requests are hit. Returns the fault (remove_fault())."""
        f = _Fault(pattern, code, delay, message, times)
        with self._lock:
            self._faults.append(f)
        return f

    def remove_fault(self, f):
        with self._lock:
            if f in self._faults:
                self._faults.remove(f)

    def clear_faults(self):
        with self._lock:
            self._faults = []

    # -- the request log --

    def mark(self):
        """A position in the request log (for requests(since=...))."""
        with self._lock:
            return len(self._log)

    def requests(self, since=0, path=None, verb=None, watch=None):
        """Log entries from position since: dicts with time, method, path,
        query, verb (get/list/watch or None), resource, namespace, name,
        subresource, code, denied (the RBAC check refused it). path: an
        exact path or a compiled regex; verb; watch True/False filters."""
        with self._lock:
            out = list(self._log[since:])
        if path is not None:
            out = [e for e in out if (path.search(e["path"]) if hasattr(path, "search")
                                      else e["path"] == path)]
        if verb is not None:
            out = [e for e in out if e["verb"] == verb]
        if watch is not None:
            out = [e for e in out if (e["verb"] == "watch") == watch]
        return out

    def count(self, path=None, since=0, verb=None):
        return len(self.requests(since, path, verb))

    def reads_by_path(self, since=0):
        """{path: number of non-watch requests} from position since."""
        out = {}
        for e in self.requests(since, watch=False):
            out[e["path"]] = out.get(e["path"], 0) + 1
        return out

    def errors(self):
        with self._lock:
            return list(self._errors)

    def _note_error(self, e):
        with self._lock:
            self._errors.append(repr(e))

    # -- the store --

    def _key(self, res, namespace, name):
        return (res.group, res.plural, namespace, name)

    def put(self, obj):
        """Create or replace an object (a deep copy is stored): uid and
        creationTimestamp survive a replace, resourceVersion always moves,
        generation moves when spec changes. Returns the stored copy."""
        res = resource_for(obj)
        obj = copy.deepcopy(obj)
        m = obj.setdefault("metadata", {})
        m.setdefault("namespace", "default")
        with self._cond:
            key = self._key(res, m["namespace"], m["name"])
            old = self._objs.get(key)
            if old is not None:
                om = old["metadata"]
                m["uid"] = om["uid"]
                m["creationTimestamp"] = om["creationTimestamp"]
                gen = om.get("generation", 1)
                m["generation"] = gen + 1 if old.get("spec") != obj.get("spec") else gen
            else:
                m.setdefault("uid", _uid())
                m.setdefault("creationTimestamp", now_rfc3339())
                m.setdefault("generation", 1)
            self._rv += 1
            m["resourceVersion"] = str(self._rv)
            if "status" in obj and isinstance(obj["status"], dict) and \
                    "observedGeneration" in obj["status"] and res.kind != "LeaderWorkerSet":
                obj["status"]["observedGeneration"] = m["generation"]
            self._objs[key] = obj
            self._events.append((self._rv, res, m["namespace"],
                                 "MODIFIED" if old is not None else "ADDED", copy.deepcopy(obj)))
            self._cond.notify_all()
            return copy.deepcopy(obj)

    def get(self, kind, namespace, name):
        """A copy of a stored object, or None."""
        res = resource_for(kind)
        with self._lock:
            o = self._objs.get(self._key(res, namespace, name))
            return copy.deepcopy(o) if o is not None else None

    def patch(self, kind, namespace, name, fn):
        """Apply fn to a copy of the object (fn mutates it) and store it."""
        o = self.get(kind, namespace, name)
        if o is None:
            raise KeyError("%s %s/%s not stored" % (kind, namespace, name))
        fn(o)
        return self.put(o)

    def delete(self, kind, namespace, name):
        res = resource_for(kind)
        with self._cond:
            o = self._objs.pop(self._key(res, namespace, name), None)
            if o is None:
                return False
            self._rv += 1
            o["metadata"]["resourceVersion"] = str(self._rv)
            self._events.append((self._rv, res, namespace, "DELETED", copy.deepcopy(o)))
            self._cond.notify_all()
            return True

    def objects(self, kind, namespace=None):
        res = resource_for(kind)
        with self._lock:
            return [copy.deepcopy(o) for (g, p, ns, _), o in sorted(self._objs.items())
                    if g == res.group and p == res.plural
                    and (namespace is None or ns == namespace)]

    # -- convenience: whole owner chains --

    def set_replicas(self, kind, namespace, name, replicas, ready=None, spec_replicas=None):
        """Set status.replicas / readyReplicas (and spec.replicas, default
        replicas) of a Deployment or LeaderWorkerSet, keeping the omitempty
        shape and the conditions consistent."""
        ready = replicas if ready is None else ready
        spec_replicas = replicas if spec_replicas is None else spec_replicas

        def fn(o):
            old = o.get("status", {})
            counts = {"replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready}
            if kind == "Deployment":
                counts["availableReplicas"] = ready
                counts["unavailableReplicas"] = max(0, replicas - ready)
            st = {k: v for k, v in old.items() if k == "observedGeneration"}
            st.update(_nonzero(counts))
            st.update({k: v for k, v in old.items() if k not in st and k not in counts})
            o["status"] = st
            o["spec"]["replicas"] = spec_replicas
            for c in st.get("conditions", []):
                if c["type"] == "Available":
                    c["status"] = "True" if ready >= 1 or spec_replicas == 0 else "False"
        return self.patch(kind, namespace, name, fn)

    def add_deployment(self, name, namespace, pod_names=(), replicas=None, ready=None,
                       spec_replicas=None, role=None, pod_labels=None, model="ibm/granite-13b"):
        """Store a Deployment, its ReplicaSet and one Running pod per name in
        pod_names (owned by the ReplicaSet). replicas defaults to the number
        of pods. Returns (deployment, replicaset, [pods])."""
        n = len(pod_names)
        replicas = n if replicas is None else replicas
        dep = self.put(deployment(name, namespace, replicas=replicas, ready=ready,
                                  spec_replicas=spec_replicas, role=role, model=model))
        rs = self.put(replica_set(dep))
        pods = [self.put(pod(p, namespace, owner=rs, labels=pod_labels, model=model))
                for p in pod_names]
        return dep, rs, pods

    def add_lws(self, name, namespace, replicas=1, ready=None, spec_replicas=None, size=2,
                role=None, pod_labels=None, model="ibm/granite-13b"):
        """Store a LeaderWorkerSet, its leader StatefulSet and one leader
        pod per group (<name>-0, <name>-1, ...). Returns (lws, sts, [pods])."""
        lws = self.put(leader_worker_set(name, namespace, replicas=replicas, ready=ready,
                                         spec_replicas=spec_replicas, size=size, role=role,
                                         model=model))
        sts = self.put(stateful_set(lws))
        pods = []
        for g in range(replicas):
            p = lws_pod(lws, sts, g)
            if pod_labels:
                p["metadata"].setdefault("labels", {}).update(pod_labels)
            pods.append(self.put(p))
        return lws, sts, pods

    # -- serving --

    def _allowed(self, verb, res, sub):
        if not self.rbac:
            return True
        name = res.plural + ("/" + sub if sub else "")
        for rule in self.rbac:
            if res.group in rule["apiGroups"] and name in rule["resources"] and \
                    verb in rule["verbs"]:
                return True
        return False

    def _parse(self, path):
        """(res, namespace, name, subresource) for a resource path, or None.
        Raises LookupError for /api... paths that name no served resource."""
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        ns = None
        if len(rest) >= 2 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise LookupError(path)
        res = _BY_PATH.get((group, version, rest[0]))
        if res is None:
            raise LookupError(path)
        name = rest[1] if len(rest) >= 2 else None
        sub = rest[2] if len(rest) == 3 else None
        if sub is not None and sub not in res.subresources:
            raise LookupError(path)
        return res, ns, name, sub

    def _serve(self, h):
        u = urllib.parse.urlsplit(h.path)
        path = u.path
        query = {k: v[-1] for k, v in
                 urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        entry = {"time": time.monotonic(), "method": h.command, "path": path, "query": query,
                 "verb": None, "resource": None, "namespace": None, "name": None,
                 "subresource": None, "code": None, "denied": False,
                 "user_agent": h.headers.get("User-Agent", "")}
        try:
            self._serve_inner(h, path, query, entry)
        finally:
            with self._lock:
                self._log.append(entry)

    def _send(self, h, entry, code, body, headers=None):
        data = (json.dumps(body) + "\n").encode()
        entry["code"] = code
        try:
            h.send_response(code)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Cache-Control", "no-cache, private")
            h.send_header("Audit-Id", _uid())
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
        except OSError:
            h.close_connection = True

    def _fail(self, h, entry, code, message, details=None, headers=None):
        self._send(h, entry, code, status(code, REASONS.get(code, "Unknown"), message, details),
                   headers)

    def _serve_inner(self, h, path, query, entry):
        # Authentication first, as the real server: a bad token is 401
        # whatever the path.
        auth = h.headers.get("Authorization", "")
        with self._lock:
            tokens = set(self._tokens)
        if not auth.startswith("Bearer ") or auth[len("Bearer "):].strip() not in tokens:
            return self._fail(h, entry, 401, "Unauthorized")

        try:
            parsed = self._parse(path)
        except LookupError:
            return self._fail(h, entry, 404, "the server could not find the requested resource",
                              {})
        res = ns = name = sub = None
        verb = "get"
        if parsed is not None:
            res, ns, name, sub = parsed
            if name is None:
                verb = "watch" if query.get("watch") in ("true", "1") else "list"
            entry.update(verb=verb, resource=res.plural, namespace=ns, name=name,
                         subresource=sub)

        # Forced faults (delay, then maybe a status).
        fault = None
        with self._lock:
            for f in self._faults:
                if f.regex.search(path) and (f.left is None or f.left > 0):
                    if f.left is not None:
                        f.left -= 1
                    fault = f
                    break
        if fault is not None:
            if fault.delay and self._stopping.wait(fault.delay):
                h.close_connection = True
                entry["code"] = "stopped"
                return
            if fault.code is not None:
                return self._fail_fault(h, entry, fault, res, ns, name, sub, verb)

        if parsed is None:
            return self._serve_nonresource(h, entry, path)
        if h.command != "GET":
            return self._fail(h, entry, 405, "the server does not allow this method on the "
                              "requested resource", {})
        if not self._allowed(verb, res, sub):
            entry["denied"] = True
            return self._fail(h, entry, 403, self._forbidden_message(verb, res, ns, name, sub),
                              self._details(res, name))
        if name is not None:
            return self._serve_get(h, entry, res, ns, name, sub)
        if verb == "watch":
            return self._serve_watch(h, entry, res, ns, query)
        return self._serve_list(h, entry, res, ns, query)

    def _details(self, res, name):
        d = {}
        if name:
            d["name"] = name
        if res.group:
            d["group"] = res.group
        d["kind"] = res.plural
        return d

    def _forbidden_message(self, verb, res, ns, name, sub):
        what = res.qualified + (' "%s"' % name if name else "")
        resource = res.plural + ("/" + sub if sub else "")
        where = ' in the namespace "%s"' % ns if ns else " at the cluster scope"
        return ('%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s"%s'
                % (what, SERVICE_ACCOUNT_USER, verb, resource, res.group, where))

    def _fail_fault(self, h, entry, fault, res, ns, name, sub, verb):
        code = fault.code
        if code == 401:
            return self._fail(h, entry, 401, fault.message or "Unauthorized")
        if code == 403 and res is not None:
            return self._fail(h, entry, 403, fault.message or
                              self._forbidden_message(verb, res, ns, name, sub),
                              self._details(res, name))
        if code == 404 and res is not None:
            return self._fail(h, entry, 404, fault.message or
                              '%s "%s" not found' % (res.qualified, name), self._details(res, name))
        if code == 429:
            return self._fail(h, entry, 429, fault.message or
                              "Too many requests, please try again later.",
                              {"causes": [{"reason": "TooManyRequests",
                                           "message": "Too many requests, please try again "
                                           "later."}], "retryAfterSeconds": 1},
                              {"Retry-After": "1"})
        if code == 500:
            msg = fault.message or ("Internal error occurred: etcdserver: request timed out")
            return self._fail(h, entry, 500, msg, {"causes": [{"message": msg}]})
        if code == 503:
            return self._fail(h, entry, 503, fault.message or "the server is currently unable to "
                              "handle the request", {})
        if code == 504:
            return self._fail(h, entry, 504, fault.message or "Timeout: request did not "
                              "complete within requested timeout - context deadline exceeded", {})
        return self._fail(h, entry, code, fault.message or "forced failure %d" % code, {})

    def _serve_nonresource(self, h, entry, path):
        entry["verb"] = "get"
        if path == "/version":
            return self._send(h, entry, 200, KUBE_VERSION)
        if path in ("/healthz", "/readyz", "/livez"):
            data = b"ok"
            entry["code"] = 200
            h.send_response(200)
            h.send_header("Content-Type", "text/plain; charset=utf-8")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        return self._fail(h, entry, 404, "the server could not find the requested resource", {})

    def _serve_get(self, h, entry, res, ns, name, sub):
        if ns is None:
            return self._fail(h, entry, 404, "the server could not find the requested resource",
                              {})
        with self._lock:
            o = self._objs.get(self._key(res, ns, name))
            o = copy.deepcopy(o) if o is not None else None
        if o is None:
            return self._fail(h, entry, 404, '%s "%s" not found' % (res.qualified, name),
                              self._details(res, name))
        if sub == "scale":
            return self._send(h, entry, 200, self._scale(res, o))
        return self._send(h, entry, 200, o)

    def _scale(self, res, o):
        m, spec, st = o["metadata"], o.get("spec", {}), o.get("status", {})
        if res.kind == "LeaderWorkerSet":
            selector = st.get("hpaPodSelector", "")
        else:
            ml = spec.get("selector", {}).get("matchLabels", {})
            selector = ",".join("%s=%s" % kv for kv in sorted(ml.items()))
        sst = {"replicas": st.get("replicas", 0)}
        if selector:
            sst["selector"] = selector
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
                             "resourceVersion": m["resourceVersion"],
                             "creationTimestamp": m["creationTimestamp"]},
                "spec": {"replicas": spec.get("replicas", 0)} if spec.get("replicas") else {},
                "status": sst}

    def _matching(self, res, ns, query):
        lsel = parse_label_selector(query.get("labelSelector", ""))
        fsel = parse_field_selector(query.get("fieldSelector", ""), res)
        return lambda o: ((ns is None or o["metadata"]["namespace"] == ns)
                          and lsel(o["metadata"].get("labels")) and fsel(o))

    def _serve_list(self, h, entry, res, ns, query):
        try:
            match = self._matching(res, ns, query)
        except SelectorError as e:
            return self._fail(h, entry, 400, str(e), {})
        with self._lock:
            rv = self._rv
            items = [copy.deepcopy(o) for (g, p, _, _), o in sorted(self._objs.items())
                     if g == res.group and p == res.plural and match(o)]
        start = 0
        if query.get("continue"):
            try:
                start = int(json.loads(base64.urlsafe_b64decode(query["continue"]))["start"])
            except (ValueError, KeyError, TypeError):
                return self._fail(h, entry, 400, "continue key is not valid: bad token", {})
        meta = {"resourceVersion": str(rv)}
        limit = int(query.get("limit") or 0)
        end = len(items) if limit <= 0 else min(len(items), start + limit)
        if end < len(items):
            meta["continue"] = base64.urlsafe_b64encode(
                json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": end}).encode()).decode()
            meta["remainingItemCount"] = len(items) - end
        items = items[start:end]
        if not res.crd:
            for o in items:
                o.pop("kind", None)
                o.pop("apiVersion", None)
        self._send(h, entry, 200, {"kind": res.kind + "List", "apiVersion": res.api_version,
                                   "metadata": meta, "items": items})

    def _serve_watch(self, h, entry, res, ns, query):
        try:
            match = self._matching(res, ns, query)
        except SelectorError as e:
            return self._fail(h, entry, 400, str(e), {})
        timeout = min(float(query.get("timeoutSeconds") or 30), 300)
        deadline = time.monotonic() + timeout
        since = query.get("resourceVersion", "")
        entry["code"] = 200
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Transfer-Encoding", "chunked")
            h.send_header("Cache-Control", "no-cache, private")
            h.end_headers()

            def chunk(obj):
                data = (json.dumps(obj) + "\n").encode()
                h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                h.wfile.flush()

            with self._lock:
                if since in ("", "0"):
                    initial = [copy.deepcopy(o) for (g, p, _, _), o in sorted(self._objs.items())
                               if g == res.group and p == res.plural and match(o)]
                    last = self._rv
                else:
                    initial = []
                    last = int(since)
            for o in initial:
                chunk({"type": "ADDED", "object": o})
            while not self._stopping.is_set():
                with self._cond:
                    evs = [e for e in self._events if e[0] > last]
                    if not evs:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(min(left, 1.0))
                        continue
                for rv, eres, _, typ, o in evs:
                    last = rv
                    if eres is res and match(o):
                        chunk({"type": typ, "object": o})
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except OSError:
            pass
        h.close_connection = True


# ---- by hand ------------------------------------------------------------------------

def _demo(fk):
    """A small store: one managed ScaledObject over a Deployment with two
    pods, in namespace llm."""
    fk.put(scaled_object("granite-13b", "llm", "granite-13b-decode", model_id="ibm/granite-13b",
                         cost="10.0", min_replicas=1, max_replicas=10))
    fk.add_deployment("granite-13b-decode", "llm",
                      ["granite-13b-decode-%s-%s" % (pod_template_hash("granite-13b-decode"), s)
                       for s in ("x2k4p", "q7mzt")])


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="a fake Kubernetes API server (TLS, bearer token)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dir", help="where the CA, certificate and token file go "
                    "(default: a temp dir)")
    ap.add_argument("--no-rbac", action="store_true", help="do not enforce the chart's RBAC")
    a = ap.parse_args(argv)
    import signal

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    fk = FakeKube(directory=a.dir, port=a.port, rbac=not a.no_rbac)
    _demo(fk)
    fk.start()
    print("fakekube on %s\nscaler flags: %s\ncurl: curl --cacert %s -H 'Authorization: Bearer %s' "
          "%s/apis/keda.sh/v1alpha1/namespaces/llm/scaledobjects"
          % (fk.url, " ".join(fk.scaler_args()), fk.ca_file, fk.token, fk.url), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fk.close()


if __name__ == "__main__":
    main(sys.argv[1:])
