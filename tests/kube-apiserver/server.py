#!/usr/bin/env python3
"""A test Kubernetes API server for seal's tests, demo and benchmarks.

Python 3 standard library only.  It keeps the parts of the Kubernetes API
semantics that a controller and kubectl rely on; README.md beside this file
lists what it implements and what it deliberately does not.

    server.py --port 0 --kubeconfig-out FILE [--tls] [--token TOKEN]
              [--compact-after N] [--state-dir DIR] [--namespace NS ...]
"""

import argparse
import base64
import binascii
import collections
import http.client
import http.server
import json
import os
import random
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

import kproto
import ktable
from kobjects import (ApiError, json_patch, merge_patch, parse_field_selector,
                      field_matches, labels_match, parse_label_selector, selector_matches,
                      status_body)

MAX_BODY = 3 * 1024 * 1024
MAX_SECRET_BYTES = 1024 * 1024
BOOKMARK_INTERVAL = 1.0
WATCH_QUEUE_MAX = 200000
PEER_CHECK_INTERVAL = 2.0
DEFAULT_COMPACT_AFTER = 500000
DEFAULT_WATCH_TIMEOUT = 1800
SERVER_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-seal-test",
                  "gitCommit": "0000000000000000000000000000000000000000",
                  "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                  "goVersion": "go1.23", "compiler": "gc", "platform": "linux/amd64"}
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class RType:
    """One served resource: group, version, plural and how it behaves."""

    def __init__(self, group, version, plural, singular, kind, namespaced,
                 short=(), status=False, generation=False, categories=(), crd=None,
                 extra_sub=()):
        self.group = group
        self.version = version
        self.plural = plural
        self.singular = singular
        self.kind = kind
        self.namespaced = namespaced
        self.short = list(short)
        self.status = status            # has a status subresource
        self.generation = generation    # bumps metadata.generation on spec changes
        self.categories = list(categories)
        self.crd = crd                  # name of the defining CRD, if any
        self.extra_sub = list(extra_sub)
        self.key = (group, plural)

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self):
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery(self):
        out = [{"name": self.plural, "singularName": self.singular,
                "namespaced": self.namespaced, "kind": self.kind, "verbs": ALL_VERBS}]
        if self.short:
            out[0]["shortNames"] = self.short
        if self.categories:
            out[0]["categories"] = self.categories
        if self.status:
            out.append({"name": self.plural + "/status", "singularName": "",
                        "namespaced": self.namespaced, "kind": self.kind,
                        "verbs": ["get", "patch", "update"]})
        for sub in self.extra_sub:
            out.append({"name": f"{self.plural}/{sub}", "singularName": "",
                        "namespaced": self.namespaced, "kind": self.kind,
                        "verbs": ["create", "delete", "get", "patch", "update"]})
        return out


BUILTIN_TYPES = [
    RType("", "v1", "namespaces", "namespace", "Namespace", False, ["ns"], status=True),
    RType("", "v1", "secrets", "secret", "Secret", True),
    RType("", "v1", "configmaps", "configmap", "ConfigMap", True, ["cm"]),
    RType("", "v1", "events", "event", "Event", True, ["ev"]),
    RType("", "v1", "services", "service", "Service", True, ["svc"], status=True,
          categories=["all"], extra_sub=["proxy"]),
    RType("", "v1", "endpoints", "endpoints", "Endpoints", True, ["ep"]),
    RType("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, ["sa"]),
    RType("", "v1", "pods", "pod", "Pod", True, ["po"], status=True, categories=["all"]),
    RType("coordination.k8s.io", "v1", "leases", "lease", "Lease", True),
    RType("apiextensions.k8s.io", "v1", "customresourcedefinitions",
          "customresourcedefinition", "CustomResourceDefinition", False, ["crd", "crds"],
          status=True, generation=True),
    RType("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", True),
    RType("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", False),
    RType("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", True),
    RType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding",
          "ClusterRoleBinding", False),
    RType("apps", "v1", "deployments", "deployment", "Deployment", True, ["deploy"],
          status=True, generation=True, categories=["all"]),
    RType("networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", True,
          ["netpol"], generation=True),
    RType("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget",
          True, ["pdb"], status=True, generation=True),
    # stored only: the stand-in calls no admission webhook (tests/e2e/test_admission.py
    # runs against the real API server)
    RType("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
          "validatingwebhookconfiguration", "ValidatingWebhookConfiguration", False,
          generation=True),
]
GROUP_ORDER = ["", "apps", "rbac.authorization.k8s.io", "coordination.k8s.io",
               "apiextensions.k8s.io", "networking.k8s.io", "policy",
               "admissionregistration.k8s.io"]


class Watcher:
    """One open watch stream: the events queued for it and how it ends."""

    def __init__(self, store, rtype, namespace, labels, fields):
        self.rtype = rtype
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.queue = collections.deque()
        self.cond = threading.Condition(store.lock)
        self.cut = False
        self.overflow = False

    def matches(self, obj):
        meta = obj.get("metadata") or {}
        if self.namespace and meta.get("namespace") != self.namespace:
            return False
        return selector_matches(obj, self.labels, self.fields)

    def translate(self, etype, ns, labels, old_labels, get_obj):
        """The event this watcher sees, given label selector transitions, or None.
        The fields we select on (name, namespace, a Secret's type) never change
        between versions, so only labels make an object enter or leave a watch;
        get_obj() gives the object for field selectors (history keeps only JSON)."""
        if self.namespace and ns != self.namespace:
            return None
        if self.fields and not field_matches(get_obj(), self.fields):
            return None
        new_ok = labels_match(labels, self.labels)
        if etype == "MODIFIED":
            old_ok = labels_match(old_labels, self.labels)
            if new_ok and old_ok:
                return "MODIFIED"
            if new_ok:
                return "ADDED"
            if old_ok:
                return "DELETED"
            return None
        return etype if new_ok else None

    def offer(self, etype, obj, old, js):
        meta = obj["metadata"]
        t = self.translate(etype, meta.get("namespace", ""), meta.get("labels"),
                           (old["metadata"].get("labels") if old is not None else None), lambda: obj)
        if t is None:
            return
        if len(self.queue) >= WATCH_QUEUE_MAX:
            self.overflow = True
        else:
            self.queue.append(event_line(t, js))
        self.cond.notify()


def peer_gone(sock):
    """True when a watch client has closed its end (or sent anything: it never does)."""
    try:
        return bool(select.select([sock.fileno()], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def event_line(etype, js):
    return b'{"type":"' + etype.encode() + b'","object":' + js + b'}\n'


class Store:
    """All objects, one lock, one monotonic resourceVersion and the change history."""

    def __init__(self, compact_after):
        self.lock = threading.RLock()
        self.rv = 0
        self.compact_after = compact_after
        self.types = {}        # (group, version, plural) -> RType
        self.by_key = {}       # (group, plural) -> RType (the storage version)
        self.objects = {}      # (group, plural) -> {namespace: {name: (obj, json)}}
        self.sorted = {}       # (group, plural) -> {namespace or None: sorted keys}
        self.uids = {}         # uid -> ((group, plural), namespace, name)
        self.owners = {}       # owner uid -> set of ((group, plural), namespace, name)
        # (rv, key, etype, json, namespace, labels, old labels): JSON bytes, not
        # objects, so superseded versions cost little memory
        self.history = collections.deque()
        self.forgotten_rv = 0  # every rv below this one is too old
        self.watchers = {}     # (group, plural) -> set of Watcher
        self.gc_queue = collections.deque()
        self.gc_cond = threading.Condition(self.lock)
        for rt in BUILTIN_TYPES:
            self.register(rt)

    # ---- types ----
    def register(self, rt):
        self.types[(rt.group, rt.version, rt.plural)] = rt
        self.by_key.setdefault(rt.key, rt)
        self.objects.setdefault(rt.key, {})
        self.sorted.setdefault(rt.key, {})

    def unregister_crd(self, crd_name):
        for k, rt in list(self.types.items()):
            if rt.crd == crd_name:
                del self.types[k]
                if self.by_key.get(rt.key) is rt:
                    del self.by_key[rt.key]

    def lookup(self, group, version, plural):
        return self.types.get((group, version, plural))

    def lookup_plural(self, plural, group=None):
        for rt in self.types.values():
            if rt.plural == plural and (group is None or rt.group == group):
                return rt
        return None

    def group_versions(self):
        """{group: [versions]} in a stable order, core first."""
        out = {}
        for (g, v, _p) in self.types:
            vs = out.setdefault(g, [])
            if v not in vs:
                vs.append(v)
        order = [g for g in GROUP_ORDER if g in out] + sorted(g for g in out if g not in GROUP_ORDER)
        return [(g, out[g]) for g in order]

    # ---- reads ----
    def get(self, rt, ns, name):
        return self.objects[rt.key].get(ns or "", {}).get(name)

    def sorted_keys(self, rt, ns):
        cache = self.sorted[rt.key]
        keys = cache.get(ns)
        if keys is None:
            objs = self.objects[rt.key]
            if ns is None:
                keys = sorted((n, m) for n, names in objs.items() for m in names)
            else:
                keys = sorted((ns, m) for m in objs.get(ns, {}))
            cache[ns] = keys
        return keys

    def exists_namespace(self, ns):
        return ns in self.objects[("", "namespaces")].get("", {})

    # ---- writes (callers hold the lock) ----
    def _invalidate(self, rt, ns):
        cache = self.sorted[rt.key]
        cache.pop(None, None)
        cache.pop(ns, None)

    def _index_owners(self, key, ns, name, old, new):
        ident = (key, ns, name)
        if old is not None:
            for ref in (old.get("metadata") or {}).get("ownerReferences") or []:
                s = self.owners.get(ref.get("uid"))
                if s is not None:
                    s.discard(ident)
                    if not s:
                        del self.owners[ref.get("uid")]
        if new is not None:
            for ref in (new.get("metadata") or {}).get("ownerReferences") or []:
                if isinstance(ref, dict) and isinstance(ref.get("uid"), str):
                    self.owners.setdefault(ref["uid"], set()).add(ident)

    def store(self, rt, obj, old):
        """Stores obj (new or replacing old), gives it the next rv, emits the event."""
        self.rv += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self.rv)
        js = dumps(obj)
        ns = meta.get("namespace", "") if rt.namespaced else ""
        name = meta["name"]
        bucket = self.objects[rt.key].setdefault(ns, {})
        if old is None:
            self._invalidate(rt, ns)
            self.uids[meta["uid"]] = (rt.key, ns, name)
        bucket[name] = (obj, js)
        self._index_owners(rt.key, ns, name, old, obj)
        self._emit(rt, "MODIFIED" if old is not None else "ADDED", obj, old, js)
        return obj, js

    def remove(self, rt, obj):
        """Removes obj for good; the DELETED event carries a fresh rv."""
        meta = obj["metadata"]
        ns = meta.get("namespace", "") if rt.namespaced else ""
        name = meta["name"]
        bucket = self.objects[rt.key].get(ns, {})
        bucket.pop(name, None)
        if not bucket:
            self.objects[rt.key].pop(ns, None)
        self._invalidate(rt, ns)
        self.uids.pop(meta.get("uid"), None)
        self._index_owners(rt.key, ns, name, obj, None)
        self.rv += 1
        final = dict(obj)
        final["metadata"] = dict(meta, resourceVersion=str(self.rv))
        js = dumps(final)
        self._emit(rt, "DELETED", final, None, js)
        self.gc_queue.append(("owner", meta.get("uid")))
        self.gc_cond.notify_all()
        return final, js

    def _emit(self, rt, etype, obj, old, js):
        meta = obj["metadata"]
        self.history.append((self.rv, rt.key, etype, js, meta.get("namespace", ""), meta.get("labels"),
                             old["metadata"].get("labels") if old is not None else None))
        while len(self.history) > self.compact_after:
            self.forgotten_rv = self.history.popleft()[0]
        for w in self.watchers.get(rt.key, ()):
            w.offer(etype, obj, old, js)

    def compact(self):
        self.history.clear()
        self.forgotten_rv = self.rv
        return self.rv

    def events_since(self, rt, rv):
        """History events for rt after rv, oldest first (rv must not be too old)."""
        out = []
        for ev in reversed(self.history):
            if ev[0] <= rv:
                break
            if ev[1] == rt.key:
                out.append(ev)
        out.reverse()
        return out

    # ---- snapshot ----
    def snapshot(self):
        with self.lock:
            objs = []
            for key, by_ns in self.objects.items():
                for names in by_ns.values():
                    for obj, _js in names.values():
                        objs.append({"group": key[0], "plural": key[1], "object": obj})
            return {"resourceVersion": self.rv, "objects": objs}


def new_status(code, reason, message, details=None):
    return ApiError(code, reason, message, details)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, addr, handler, args):
        super().__init__(addr, handler)
        self.args = args
        self.store = Store(args.compact_after)
        self.token = args.token
        self.faults = []
        self.fault_id = 0
        self.stats = collections.Counter()
        self.watch_streams = set()
        self.tls = None

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


# ---------------------------------------------------------------------------
# Object logic: validation, defaults, create/update/patch/delete.
# ---------------------------------------------------------------------------

def not_found(rt, name):
    details = {"name": name, "kind": rt.plural}
    if rt.group:
        details["group"] = rt.group
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', details)


def conflict(rt, name, why):
    details = {"name": name, "kind": rt.plural}
    if rt.group:
        details["group"] = rt.group
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.qualified} "{name}": {why}', details)


def invalid(rt, name, causes):
    """422 Invalid from [(field, message)]."""
    details = {"name": name or "", "kind": rt.kind,
               "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f}
                          for f, m in causes]}
    if rt.group:
        details["group"] = rt.group
    text = ", ".join(f"{f}: {m}" for f, m in causes)
    return ApiError(422, "Invalid", f'{rt.kind} "{name or ""}" is invalid: {text}', details)


def check_string_map(rt, name, obj, path, value):
    if value is None:
        return
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid(rt, name, [(path, "Invalid value: must be a map of strings")])


LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def valid_label_key(key):
    prefix, _, lname = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(lname) <= 63 and bool(LABEL_NAME.match(lname))


def validate_metadata(rt, obj):
    meta = obj["metadata"]
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise invalid(rt, "", [("metadata.name", "Required value: name or generateName is required")])
    if rt.key == ("", "namespaces"):
        ok = len(name) <= 63 and DNS1123_LABEL.match(name)
        why = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"
    else:
        ok = len(name) <= 253 and DNS1123_SUBDOMAIN.match(name)
        why = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
               "'-' or '.', and must start and end with an alphanumeric character")
    if not ok:
        raise invalid(rt, name, [("metadata.name", f'Invalid value: "{name}": {why}')])
    check_string_map(rt, name, obj, "metadata.labels", meta.get("labels"))
    for k, v in (meta.get("labels") or {}).items():
        if not valid_label_key(k):
            raise invalid(rt, name, [("metadata.labels", f'Invalid value: "{k}": a valid label key is '
                                      "an optional DNS subdomain prefix and '/', and a name of at most "
                                      "63 alphanumeric characters, '-', '_' or '.'")])
        if len(v) > 63 or not LABEL_VALUE.match(v):
            raise invalid(rt, name, [("metadata.labels", f'Invalid value: "{v}": a valid label value is '
                                      "empty or at most 63 alphanumeric characters, '-', '_' or '.', "
                                      "starting and ending with an alphanumeric character")])
    check_string_map(rt, name, obj, "metadata.annotations", meta.get("annotations"))
    refs = meta.get("ownerReferences")
    if refs is not None:
        if not isinstance(refs, list) or not all(
                isinstance(r, dict) and isinstance(r.get("uid"), str) and r.get("uid")
                and isinstance(r.get("name"), str) and isinstance(r.get("kind"), str)
                and isinstance(r.get("apiVersion"), str) for r in refs):
            raise invalid(rt, name, [("metadata.ownerReferences",
                                      "Invalid value: each needs apiVersion, kind, name and uid")])
    fins = meta.get("finalizers")
    if fins is not None and (not isinstance(fins, list) or not all(isinstance(f, str) for f in fins)):
        raise invalid(rt, name, [("metadata.finalizers", "Invalid value: must be a list of strings")])


def normalize_secret(rt, obj, old):
    """stringData into data, base64 and size checks, immutability (Secret, ConfigMap)."""
    name = obj["metadata"]["name"]
    is_secret = rt.key == ("", "secrets")
    data = obj.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise invalid(rt, name, [("data", "Invalid value: must be a map")])
    data = dict(data)
    if is_secret:
        sd = obj.pop("stringData", None)
        if sd is not None:
            if not isinstance(sd, dict):
                raise invalid(rt, name, [("stringData", "Invalid value: must be a map of strings")])
            for k, v in sd.items():
                if not isinstance(v, str):
                    raise invalid(rt, name, [(f"stringData[{k}]", "Invalid value: must be a string")])
                data[k] = base64.b64encode(v.encode("utf-8", "surrogatepass")).decode()
    total = 0
    for k, v in data.items():
        if not DATA_KEY.match(k) or len(k) > 253:
            raise invalid(rt, name, [(f"data[{k}]", "Invalid value: a valid config key must consist "
                                      "of alphanumeric characters, '-', '_' or '.'")])
        if not isinstance(v, str):
            raise invalid(rt, name, [(f"data[{k}]", "Invalid value: must be a string")])
        if is_secret:
            try:
                total += len(base64.b64decode(v.encode("ascii"), validate=True))
            except (binascii.Error, ValueError, UnicodeEncodeError):
                raise invalid(rt, name, [(f"data[{k}]", "Invalid value: illegal base64 data")]) from None
        else:
            total += len(v.encode("utf-8", "surrogatepass"))
    if total > MAX_SECRET_BYTES:
        raise invalid(rt, name, [("data", f"Too long: must have at most {MAX_SECRET_BYTES} bytes")])
    if data or "data" in obj:
        obj["data"] = data
    imm = obj.get("immutable")
    if imm is not None and not isinstance(imm, bool):
        raise invalid(rt, name, [("immutable", "Invalid value: must be a boolean")])
    if is_secret:
        if obj.get("type") in (None, ""):
            obj["type"] = "Opaque" if old is None else old.get("type", "Opaque")
        if not isinstance(obj["type"], str):
            raise invalid(rt, name, [("type", "Invalid value: must be a string")])
        if old is not None and obj["type"] != old.get("type", "Opaque"):
            raise invalid(rt, name, [("type", "Invalid value: field is immutable")])
    if old is not None and old.get("immutable") is True:
        if imm is not True:
            raise invalid(rt, name, [("immutable", "Forbidden: field is immutable when `immutable` is set")])
        if (old.get("data") or {}) != data or (not is_secret and old.get("binaryData") != obj.get("binaryData")):
            raise invalid(rt, name, [("data", "Forbidden: field is immutable when `immutable` is set")])


def check_identity(rt, obj, ns):
    """The body's kind/apiVersion/namespace must agree with the URL (400 otherwise)."""
    for field, want, what in (("kind", rt.kind, "the kind of the object ({}) does not match the kind of the URL ({})"),
                              ("apiVersion", rt.api_version,
                               "the API version in the data ({}) does not match the expected API version ({})")):
        got = obj.get(field)
        if got is None:
            obj[field] = want
        elif got != want:
            raise ApiError(400, "BadRequest", what.format(got, want))
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise ApiError(400, "BadRequest", "metadata must be an object")
    if rt.namespaced:
        bns = meta.get("namespace")
        if bns not in (None, "", ns):
            raise ApiError(400, "BadRequest",
                           "the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = ns
    else:
        meta.pop("namespace", None)


def spec_part(rt, obj):
    """What a generation bump compares: everything but metadata (and status with the subresource)."""
    return {k: v for k, v in obj.items()
            if k not in ("metadata", "kind", "apiVersion") and not (rt.status and k == "status")}


def crd_types(obj):
    """The RTypes a CustomResourceDefinition serves (raises ApiError 422 when malformed)."""
    crt = BUILTIN_BY_KEY[("apiextensions.k8s.io", "customresourcedefinitions")]
    name = obj["metadata"]["name"]
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise invalid(crt, name, [("spec", "Required value")])
    group = spec.get("group")
    names = spec.get("names") or {}
    if not isinstance(group, str) or "." not in group or not DNS1123_SUBDOMAIN.match(group):
        raise invalid(crt, name, [("spec.group", "Invalid value: should be a domain with at least one dot")])
    if not isinstance(names, dict) or not isinstance(names.get("plural"), str) or not isinstance(names.get("kind"), str):
        raise invalid(crt, name, [("spec.names", "Required value: plural and kind are required")])
    plural = names["plural"]
    if name != f"{plural}.{group}":
        raise invalid(crt, name, [("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group')])
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        raise invalid(crt, name, [("spec.scope", 'Unsupported value: supported values: "Cluster", "Namespaced"')])
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        raise invalid(crt, name, [("spec.versions", "Required value")])
    out = []
    storage = 0
    for v in versions:
        if not isinstance(v, dict) or not isinstance(v.get("name"), str):
            raise invalid(crt, name, [("spec.versions", "Invalid value: each version needs a name")])
        storage += 1 if v.get("storage") else 0
        if not v.get("served"):
            continue
        subs = v.get("subresources") or {}
        out.append(RType(group, v["name"], plural, names.get("singular") or plural.lower(),
                         names["kind"], scope == "Namespaced", names.get("shortNames") or [],
                         status="status" in subs, generation=True,
                         categories=names.get("categories") or [], crd=name))
    if storage != 1:
        raise invalid(crt, name, [("spec.versions", "Invalid value: must have exactly one version marked as storage version")])
    # storage version first so it becomes the storage key
    out.sort(key=lambda r: 0 if any(v.get("storage") and v.get("name") == r.version for v in versions) else 1)
    return out


BUILTIN_BY_KEY = {rt.key: rt for rt in BUILTIN_TYPES}


def generate_name(prefix):
    return prefix[:58] + "".join(random.choice(GENERATE_ALPHABET) for _ in range(5))


class Api:
    """The resource operations, shared by the HTTP handler and the GC worker."""

    def __init__(self, server):
        self.server = server
        self.store = server.store

    # create ------------------------------------------------------------------
    def create(self, rt, ns, obj, dry_run=False):
        st = self.store
        check_identity(rt, obj, ns)
        meta = obj["metadata"]
        generated = not meta.get("name") and isinstance(meta.get("generateName"), str) and meta["generateName"]
        if generated:
            meta["name"] = generate_name(meta["generateName"])
        validate_metadata(rt, obj)
        name = meta["name"]
        for k in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp",
                  "deletionGracePeriodSeconds", "selfLink", "managedFields"):
            meta.pop(k, None)
        if rt.key in (("", "secrets"), ("", "configmaps")):
            normalize_secret(rt, obj, None)
        if rt.status and rt.crd:
            obj.pop("status", None)
        new_types = None
        if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            new_types = crd_types(obj)
            n = obj["spec"]["names"]
            obj["status"] = {
                "acceptedNames": {k: v for k, v in n.items()},
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                     "message": "no conflicts found", "lastTransitionTime": now_rfc3339()},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                     "message": "the initial names have been accepted", "lastTransitionTime": now_rfc3339()}],
                "storedVersions": [new_types[0].version]}
        if rt.key == ("", "namespaces"):
            spec = obj.setdefault("spec", {})
            if isinstance(spec, dict) and not spec.get("finalizers"):
                spec["finalizers"] = ["kubernetes"]
            obj["status"] = {"phase": "Active"}
            labels = meta.setdefault("labels", {})
            labels.setdefault("kubernetes.io/metadata.name", name)
        with st.lock:
            if rt.namespaced and not st.exists_namespace(ns):
                raise ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                               {"name": ns, "kind": "namespaces"})
            # Kubernetes 1.32 (RetryGenerateName) tries up to 8 generated names
            for _ in range(7 if generated else 0):
                if st.get(rt, ns, name) is None:
                    break
                name = meta["name"] = generate_name(meta["generateName"])
            if st.get(rt, ns, name) is not None:
                details = {"name": name, "kind": rt.plural}
                if rt.group:
                    details["group"] = rt.group
                raise ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', details)
            if new_types:
                for nt in new_types:
                    other = st.by_key.get(nt.key)
                    if other is not None and other.crd != name:
                        raise invalid(rt, name, [("spec.names.plural", "Invalid value: already served")])
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if rt.generation:           # as Kubernetes: only kinds with a spec to observe
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            if dry_run:
                meta["resourceVersion"] = str(st.rv)
                return dumps(obj)
            if new_types:
                for nt in new_types:
                    st.register(nt)
            return st.store(rt, obj, None)[1]

    # update ------------------------------------------------------------------
    def update(self, rt, ns, name, obj, subresource=None, dry_run=False, check_rv=True):
        st = self.store
        check_identity(rt, obj, ns)
        meta = obj["metadata"]
        if meta.get("name") in (None, ""):
            meta["name"] = name
        if meta["name"] != name:
            raise ApiError(400, "BadRequest",
                           f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        with st.lock:
            cur = st.get(rt, ns, name)
            if cur is None:
                raise not_found(rt, name)
            old = cur[0]
            want_rv = meta.get("resourceVersion")
            if check_rv and want_rv not in (None, "") and want_rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name, "the object has been modified; please apply your changes "
                                         "to the latest version and try again")
            old_meta = old["metadata"]
            if subresource == "status":
                new = dict(old)
                if "status" in obj:
                    new["status"] = obj["status"]
                else:
                    new.pop("status", None)
                new["metadata"] = dict(old_meta)
            else:
                new = obj
                for k in ("uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation"):
                    if k in old_meta:
                        meta[k] = old_meta[k]
                    else:
                        meta.pop(k, None)
                meta.pop("managedFields", None)
                if rt.status:
                    if "status" in old:
                        new["status"] = old["status"]
                    else:
                        new.pop("status", None)
                validate_metadata(rt, new)
                if rt.key in (("", "secrets"), ("", "configmaps")):
                    normalize_secret(rt, new, old)
                if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                    crd_types(new)
                    if (new["spec"].get("group"), (new["spec"].get("names") or {}).get("plural")) != \
                            (old["spec"]["group"], old["spec"]["names"]["plural"]):
                        raise invalid(rt, name, [("spec", "Invalid value: group and plural are immutable")])
                if rt.generation and spec_part(rt, new) != spec_part(rt, old):
                    meta["generation"] = int(old_meta.get("generation", 1)) + 1
            new["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
            if new == old:
                return cur[1]           # no change: no new resourceVersion, no event
            if dry_run:
                return dumps(new)
            if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions") and subresource is None:
                st.unregister_crd(name)
                for nt in crd_types(new):
                    st.register(nt)
            if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
                return st.remove(rt, new)[1]
            return st.store(rt, new, old)[1]

    # patch -------------------------------------------------------------------
    def patch(self, rt, ns, name, ctype, body, subresource=None, dry_run=False):
        st = self.store
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, "BadRequest", f"error decoding patch: {e}") from None
        with st.lock:
            cur = st.get(rt, ns, name)
            if cur is None and ctype == "application/apply-patch+yaml" and isinstance(doc, dict) \
                    and subresource is None:
                # server-side apply creates what is missing
                meta = doc.setdefault("metadata", {})
                if isinstance(meta, dict) and meta.get("name") in (None, name):
                    meta["name"] = name
                return 201, self.create(rt, ns, doc, dry_run=dry_run)
            if cur is None:
                raise not_found(rt, name)
            target = json.loads(cur[1])
            if ctype == "application/json-patch+json":
                if not isinstance(doc, list):
                    raise ApiError(400, "BadRequest", "json patch must be a list of operations")
                result = json_patch(target, doc)
            elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json",
                           "application/apply-patch+yaml"):
                if not isinstance(doc, dict):
                    raise ApiError(400, "BadRequest", "merge patch must be a JSON object")
                result = merge_patch(target, doc, strategic=ctype != "application/merge-patch+json")
            else:
                raise ApiError(415, "UnsupportedMediaType",
                               f'the body of the request was in an unknown format - accepted media types include: '
                               'application/json-patch+json, application/merge-patch+json, '
                               f'application/apply-patch+yaml, application/strategic-merge-patch+json (got "{ctype}")')
            if not isinstance(result, dict):
                raise invalid(rt, name, [("", "Invalid value: patch result is not an object")])
            return 200, self.update(rt, ns, name, result, subresource=subresource, dry_run=dry_run)

    # delete ------------------------------------------------------------------
    def delete(self, rt, ns, name, opts=None, dry_run=False):
        st = self.store
        opts = opts or {}
        with st.lock:
            cur = st.get(rt, ns, name)
            if cur is None:
                raise not_found(rt, name)
            obj = cur[0]
            meta = obj["metadata"]
            pre = opts.get("preconditions") or {}
            if isinstance(pre, dict):
                for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                    if pre.get(field) and pre[field] != meta.get(field):
                        raise conflict(rt, name, f"Precondition failed: {label} in precondition: {pre[field]}, "
                                                 f"{label} in object meta: {meta.get(field)}")
            details = {"name": name, "kind": rt.plural, "uid": meta.get("uid")}
            if rt.group:
                details["group"] = rt.group
            success = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                       "details": details}
            if dry_run:
                return 200, dumps(success)
            if meta.get("finalizers"):
                if meta.get("deletionTimestamp"):
                    return 200, cur[1]
                new = json.loads(cur[1])
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                return 200, st.store(rt, new, obj)[1]
            st.remove(rt, obj)
            if opts.get("propagationPolicy") == "Orphan" or opts.get("orphanDependents") is True:
                st.gc_queue.pop()           # the owner entry remove() queued
            if rt.key == ("", "namespaces"):
                st.gc_queue.append(("namespace", name))
            if rt.crd is None and rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                st.gc_queue.append(("crd", name))
            return 200, dumps(success)

    # garbage collection ------------------------------------------------------
    def gc_worker(self):
        st = self.store
        while True:
            with st.lock:
                while not st.gc_queue:
                    st.gc_cond.wait()
                what, arg = st.gc_queue.popleft()
                if what == "owner":
                    self._gc_dependents(arg)
                elif what == "namespace":
                    self._gc_namespace(arg)
                elif what == "crd":
                    self._gc_crd(arg)

    def _owners_alive(self, obj):
        for ref in obj["metadata"].get("ownerReferences") or []:
            if ref.get("uid") in self.store.uids:
                return True
        return False

    def _gc_dependents(self, uid):
        st = self.store
        for key, ns, name in list(st.owners.get(uid, ())):
            cur = st.objects[key].get(ns, {}).get(name)
            rt = st.by_key.get(key)
            if cur is None or rt is None or self._owners_alive(cur[0]):
                continue
            try:
                self.delete(rt, ns, name)
            except ApiError:
                pass

    def _gc_namespace(self, ns):
        st = self.store
        for key, by_ns in st.objects.items():
            rt = st.by_key.get(key)
            if rt is None or not rt.namespaced:
                continue
            for name in list(by_ns.get(ns, {})):
                cur = by_ns[ns][name]
                if cur[0]["metadata"].get("finalizers"):
                    new = json.loads(cur[1])
                    new["metadata"]["finalizers"] = []
                    st.store(rt, new, cur[0])
                st.remove(rt, by_ns[ns][name][0])

    def _gc_crd(self, crd_name):
        st = self.store
        gone = [rt for rt in st.types.values() if rt.crd == crd_name]
        st.unregister_crd(crd_name)
        seen = set()
        for rt in gone:
            if rt.key in seen:
                continue
            seen.add(rt.key)
            # the (now empty) dictionaries stay: a request that looked the type up
            # before the deletion still finds them
            for ns, names in list(st.objects.get(rt.key, {}).items()):
                for name in list(names):
                    st.remove(rt, names[name][0])


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "seal-test-apiserver"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if self.server.args.verbose:
            sys.stderr.write("apiserver: " + (fmt % args) + "\n")

    # ---- low level ----
    def send_body(self, code, body, ctype="application/json", headers=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, code, obj, headers=None):
        self.send_body(code, obj if isinstance(obj, bytes) else dumps(obj), headers=headers)

    def send_error_status(self, err):
        self.send_json(err.code, status_body(err.code, err.reason, err.message, err.details), err.headers)

    def handle_expect_100(self):
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > MAX_BODY:
            self.close_connection = True
            self.send_error_status(ApiError(413, "RequestEntityTooLarge",
                                            "the request body is too large (over 3 MiB)"))
            return False
        return super().handle_expect_100()

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            parts, total = [], 0
            while True:
                line = self.rfile.readline(100)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self.close_connection = True
                    raise ApiError(400, "BadRequest", "malformed chunked request body") from None
                if size == 0:
                    while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    self.close_connection = True
                    raise ApiError(413, "RequestEntityTooLarge", "the request body is too large (over 3 MiB)")
                parts.append(self.rfile.read(size))
                self.rfile.readline(10)
            return b"".join(parts)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.strip().isdigit():
            self.close_connection = True
            raise ApiError(400, "BadRequest", "invalid Content-Length")
        n = int(length)
        if n > MAX_BODY:
            # Drain a moderately large body so the client reads the answer rather
            # than a reset; past that, answer and close at once.
            left = n if n <= 8 * MAX_BODY else 0
            while left > 0:
                got = self.rfile.read(min(left, 65536))
                if not got:
                    break
                left -= len(got)
            self.close_connection = True
            raise ApiError(413, "RequestEntityTooLarge", "the request body is too large (over 3 MiB)")
        data = self.rfile.read(n)
        if len(data) != n:
            self.close_connection = True
            raise ApiError(400, "BadRequest", "truncated request body")
        return data

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        try:
            try:
                body = self.read_body()
                self.route(method, body)
            except ApiError as e:
                self.send_error_status(e)
        except (OSError, ssl.SSLError):      # the client went away (reset, broken pipe, timeout)
            self.close_connection = True
        except Exception as e:  # a bug here must not kill the connection thread silently
            sys.stderr.write(f"apiserver: internal error on {method} {self.path}: {e!r}\n")
            import traceback
            traceback.print_exc()
            try:
                self.send_error_status(ApiError(500, "InternalError", f"internal error: {e!r}"))
            except OSError:
                self.close_connection = True

    # ---- routing ----
    def route(self, method, body):
        u = urllib.parse.urlsplit(self.path)
        path = u.path
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        if path == "/_test" or path.startswith("/_test/"):
            return TestApi(self).handle(method, path, q, body)
        srv = self.server
        token = srv.token
        if token is not None:
            auth = self.headers.get("Authorization") or ""
            if auth != "Bearer " + token:
                raise ApiError(401, "Unauthorized", "Unauthorized")
        req = parse_resource_path(srv.store, path)
        if req is not None:
            with srv.store.lock:
                srv.stats[stat_key(method, req, q)] += 1
        self.apply_faults(method, path)
        if req is None:
            return self.non_resource(method, path, q)
        return ResourceRequest(self, req, method, q, body).run()

    def apply_faults(self, method, path):
        srv = self.server
        rule = None
        with srv.store.lock:
            now = time.monotonic()
            for r in list(srv.faults):
                if r.get("expires") and now > r["expires"]:
                    srv.faults.remove(r)
                    continue
                if r["method"] not in ("*", method) or not r["regex"].search(path):
                    continue
                if r.get("probability") is not None and random.random() >= r["probability"]:
                    continue
                if r.get("count") is not None:
                    r["count"] -= 1
                    if r["count"] <= 0:
                        srv.faults.remove(r)
                rule = r
                break
        if rule is None:
            return
        if rule.get("delay"):
            time.sleep(rule["delay"])
        code = rule.get("status") or 0
        if not code:
            return
        reasons = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
                   502: "BadGateway", 504: "Timeout", 408: "Timeout", 409: "Conflict", 403: "Forbidden"}
        headers = {}
        details = None
        if rule.get("retry_after") is not None:
            headers["Retry-After"] = str(int(rule["retry_after"]))
            details = {"retryAfterSeconds": int(rule["retry_after"])}
        err = ApiError(code, reasons.get(code, "InternalError"), f"injected fault {rule['id']}", details)
        err.headers = headers
        raise err

    def non_resource(self, method, path, q):
        srv = self.server
        st = srv.store
        p = path.rstrip("/") or "/"
        if method != "GET":
            if p in ("/api", "/apis", "/version") or p.startswith(("/api/", "/apis/", "/openapi")):
                raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource")
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if p == "/version":
            return self.send_json(200, SERVER_VERSION)
        if p in ("/healthz", "/livez", "/readyz"):
            return self.send_body(200, b"ok", "text/plain")
        with st.lock:
            gvs = st.group_versions()
            if p == "/api":
                return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": [
                                                {"clientCIDR": "0.0.0.0/0",
                                                 "serverAddress": f"127.0.0.1:{srv.server_address[1]}"}]})
            if p == "/apis":
                return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                            "groups": [api_group(g, vs) for g, vs in gvs if g]})
            if p == "/api/v1":
                return self.send_json(200, resource_list(st, "", "v1"))
            m = re.match(r"^/apis/([^/]+)(?:/([^/]+))?$", p)
            if m:
                g, v = m.group(1), m.group(2)
                vs = dict(gvs).get(g) if g else None
                if vs and v is None:
                    return self.send_json(200, dict(api_group(g, vs), kind="APIGroup", apiVersion="v1"))
                if vs and v in vs:
                    return self.send_json(200, resource_list(st, g, v))
            if p == "/openapi/v3":
                return self.send_json(200, {"paths": {
                    ("api/v1" if not g else f"apis/{g}/{v}"): {
                        "serverRelativeURL": ("/openapi/v3/api/v1" if not g else f"/openapi/v3/apis/{g}/{v}")
                        + "?hash=" + openapi_hash(st, g, v)}
                    for g, vs in gvs for v in vs}})
            m = re.match(r"^/openapi/v3/(?:api/(v1)|apis/([^/]+)/([^/]+))$", p)
            if m:
                g, v = (m.group(2) or ""), (m.group(1) or m.group(3))
                if v in dict(gvs).get(g, []):
                    return self.send_json(200, openapi_doc(st, g, v))
        raise ApiError(404, "NotFound", "the server could not find the requested resource")


def api_group(g, vs):
    gv = [{"groupVersion": f"{g}/{v}", "version": v} for v in vs]
    return {"name": g, "versions": gv, "preferredVersion": gv[0]}


def resource_list(st, g, v):
    res = []
    for (tg, tv, _p), rt in st.types.items():
        if tg == g and tv == v:
            res.extend(rt.discovery())
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{g}/{v}" if g else v, "resources": res}


def openapi_hash(st, g, v):
    names = sorted(rt.plural + rt.kind + str(rt.namespaced) + str(rt.status)
                   for (tg, tv, _p), rt in st.types.items() if tg == g and tv == v)
    return format(abs(hash("|".join(names))) & 0xFFFFFFFFFFFF, "x")


def openapi_doc(st, g, v):
    """A small OpenAPI v3 document: every operation with its GVK and the query parameters
    kubectl looks for (fieldValidation on PATCH above all; see KUBECTL.md)."""
    params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True},
               "description": d} for n, d in (
        ("fieldValidation", "instructs the server on how to handle objects with unknown or duplicate fields"),
        ("fieldManager", "a name associated with the actor or entity that is making these changes"),
        ("dryRun", "when present, indicates that modifications should not be persisted"))]
    paths = {}
    schemas = {}
    prefix = "/api/v1" if not g else f"/apis/{g}/{v}"
    for (tg, tv, _p), rt in st.types.items():
        if tg != g or tv != v:
            continue
        gvk = {"group": g, "version": v, "kind": rt.kind}

        def op(action, rt=rt, gvk=gvk):
            return {"operationId": f"{action}{rt.kind}", "parameters": params,
                    "responses": {"200": {"description": "OK"}},
                    "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}
        coll = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
        paths[coll] = {"get": op("list"), "post": op("post"), "delete": op("deletecollection")}
        paths[coll + "/{name}"] = {"get": op("get"), "put": op("put"), "patch": op("patch"),
                                   "delete": op("delete")}
        if rt.status:
            paths[coll + "/{name}/status"] = {"get": op("get"), "put": op("put"), "patch": op("patch")}
        sname = ".".join(reversed(g.split("."))) if g else "io.k8s.api.core"
        schemas[f"{sname}.{v}.{rt.kind}"] = {
            "type": "object", "x-kubernetes-preserve-unknown-fields": True,
            "x-kubernetes-group-version-kind": [gvk]}
    return {"openapi": "3.0.0", "info": {"title": "seal test apiserver", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": schemas}}


def parse_resource_path(st, path):
    """Resource requests as a dict, or None for non-resource paths.
    Raises 404 for an API path naming an unknown resource."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api" and len(parts) >= 3 and parts[1] == "v1":
        group, version, rest = "", "v1", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    unknown = ApiError(404, "NotFound", "the server could not find the requested resource")
    with st.lock:
        ns = None
        if group == "" and rest[0] == "namespaces" and len(rest) >= 2 and \
                (len(rest) == 2 or rest[2] in ("status", "finalize")):
            rt = st.lookup("", "v1", "namespaces")
            name, sub = rest[1], (rest[2] if len(rest) > 2 else None)
            if len(rest) > 3:
                raise unknown
        elif rest[0] == "namespaces" and len(rest) >= 3:
            ns = rest[1]
            rt = st.lookup(group, version, rest[2])
            if rt is None or not rt.namespaced:
                raise unknown
            name = rest[3] if len(rest) > 3 else None
            sub = rest[4] if len(rest) > 4 else None
            extra = rest[5:]
            if sub == "proxy" and rt.key == ("", "services"):
                return {"rt": rt, "ns": ns, "name": name, "sub": "proxy", "proxy_path": "/" + "/".join(extra),
                        "trailing": path.endswith("/")}
            if extra:
                raise unknown
        else:
            rt = st.lookup(group, version, rest[0])
            if rt is None or len(rest) > 3:
                raise unknown
            name = rest[1] if len(rest) > 1 else None
            sub = rest[2] if len(rest) > 2 else None
            if rt.namespaced and name is not None:
                raise unknown
        if sub is not None and not (sub == "status" and rt.status):
            if not (sub == "finalize" and rt.key == ("", "namespaces")):
                raise unknown
        return {"rt": rt, "ns": ns, "name": name, "sub": sub}


def stat_key(method, req, q):
    rt = req["rt"]
    if req["name"] is None:
        verb = {"GET": "watch" if q.get("watch") in ("1", "true") else "list",
                "POST": "create", "DELETE": "delete"}.get(method, method.lower())
    else:
        verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}.get(method, method.lower())
        if q.get("watch") in ("1", "true"):
            verb = "watch"
    res = rt.plural + ("/" + req["sub"] if req["sub"] else "")
    return f"{verb} {res}"


class ResourceRequest:
    def __init__(self, handler, req, method, q, body):
        self.h = handler
        self.srv = handler.server
        self.st = handler.server.store
        self.api = handler.server.api
        self.rt = req["rt"]
        self.ns = req["ns"]
        self.name = req["name"]
        self.sub = req["sub"]
        self.req = req
        self.method = method
        self.q = q
        self.body = body

    def json_body(self):
        ctype = (self.h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/vnd.kubernetes.protobuf":
            return kproto.decode(self.body)
        if ctype not in ("", "application/json", "application/yaml"):
            raise ApiError(415, "UnsupportedMediaType",
                           f'the body of the request was in an unknown format - accepted media types include: '
                           f'application/json, application/yaml (JSON only), '
                           f'application/vnd.kubernetes.protobuf (a few core kinds) (got "{ctype}")')
        try:
            obj = json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, "BadRequest", f"the body of the request is not valid JSON: {e}") from None
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the body of the request must be a JSON object")
        return obj

    def dry_run(self):
        dr = self.q.get("dryRun")
        if dr in (None, ""):
            return False
        if dr != "All":
            raise ApiError(400, "BadRequest", f'dryRun: Unsupported value: "{dr}": supported values: "All"')
        return True

    def run(self):
        m, rt = self.method, self.rt
        if self.sub == "proxy":
            return self.proxy()
        if self.sub == "finalize":
            raise ApiError(405, "MethodNotAllowed", "finalize is not supported by this server")
        watch = self.q.get("watch") in ("1", "true")
        if self.name is None:
            if m == "GET":
                return self.watch() if watch else self.list()
            if m == "POST":
                if self.ns is None and rt.namespaced:
                    raise ApiError(405, "MethodNotAllowed",
                                   "the server does not allow this method on the requested resource")
                out = self.api.create(rt, self.ns, self.json_body(), dry_run=self.dry_run())
                return self.h.send_json(201, out)
            if m == "DELETE":
                return self.delete_collection()
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if m == "GET":
            if watch:
                self.q.setdefault("fieldSelector", "")
                self.q["fieldSelector"] = ",".join(
                    x for x in (self.q["fieldSelector"], f"metadata.name={self.name}") if x)
                return self.watch()
            with self.st.lock:
                cur = self.st.get(rt, self.ns, self.name)
                crd = self.crd_object()
            if cur is None:
                raise not_found(rt, self.name)
            if ktable.wants_table(self.h.headers.get("Accept")):
                return self.h.send_json(200, ktable.table(rt, crd, [cur[0]], {
                    "resourceVersion": cur[0]["metadata"]["resourceVersion"]}))
            return self.h.send_json(200, cur[1])
        if m == "PUT":
            out = self.api.update(rt, self.ns, self.name, self.json_body(), subresource=self.sub,
                                  dry_run=self.dry_run())
            return self.h.send_json(200, out)
        if m == "PATCH":
            ctype = (self.h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            code, out = self.api.patch(rt, self.ns, self.name, ctype, self.body, subresource=self.sub,
                                       dry_run=self.dry_run())
            return self.h.send_json(code, out)
        if m == "DELETE":
            if self.sub:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            opts = {}
            if self.body.strip():
                opts = self.json_body()
            if "propagationPolicy" in self.q:
                opts["propagationPolicy"] = self.q["propagationPolicy"]
            dry = self.dry_run() or opts.get("dryRun") == ["All"]
            code, out = self.api.delete(rt, self.ns, self.name, opts, dry_run=dry)
            return self.h.send_json(code, out)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def crd_object(self):
        """The CRD serving this resource, or None (caller holds the lock)."""
        if self.rt.crd is None:
            return None
        cur = self.st.objects[("apiextensions.k8s.io", "customresourcedefinitions")].get("", {}).get(self.rt.crd)
        return cur[0] if cur else None

    def selectors(self):
        labels = parse_label_selector(self.q.get("labelSelector", ""))
        fields = parse_field_selector(self.q.get("fieldSelector", ""), self.rt)
        return labels, fields

    def list(self):
        labels, fields = self.selectors()
        limit = self.q.get("limit") or "0"
        if not limit.isdigit():
            raise ApiError(400, "BadRequest", f'invalid limit "{limit}"')
        limit = int(limit)
        cont = self.q.get("continue") or ""
        st, rt = self.st, self.rt
        start = None
        if cont:
            try:
                tok = json.loads(base64.urlsafe_b64decode(cont.encode() + b"==="))
                token_rv = int(tok["rv"])
                start = (str(tok["ns"]), str(tok["name"]))
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise ApiError(400, "BadRequest", "continue key is not valid: malformed token") from None
        items, found = [], []
        with st.lock:
            if cont and token_rv < st.forgotten_rv:
                raise ApiError(410, "Expired",
                               "The provided continue parameter is too old to display a consistent list result. "
                               "You can start a new list without the continue parameter.")
            list_rv = token_rv if cont else st.rv
            keys = st.sorted_keys(rt, self.ns)
            i = 0
            if start is not None:
                import bisect
                i = bisect.bisect_right(keys, start)
            objs = st.objects[rt.key]
            last = None
            more = False
            n = len(keys)
            while i < n:
                kns, kname = keys[i]
                i += 1
                obj, js = objs[kns][kname]
                if (labels or fields) and not selector_matches(obj, labels, fields):
                    continue
                if limit and len(items) >= limit:
                    more = True
                    i -= 1
                    break
                items.append(js)
                found.append(obj)
                last = (kns, kname)
            meta = {"resourceVersion": str(list_rv)}
            if more and last is not None:
                meta["continue"] = base64.urlsafe_b64encode(
                    dumps({"rv": list_rv, "ns": last[0], "name": last[1]})).decode().rstrip("=")
                if not labels and not fields:
                    meta["remainingItemCount"] = n - i
            crd = self.crd_object()
        if ktable.wants_table(self.h.headers.get("Accept")):
            return self.h.send_json(200, ktable.table(rt, crd, found, meta))
        head = dumps({"kind": rt.kind + "List", "apiVersion": rt.api_version, "metadata": meta})
        body = head[:-1] + b',"items":[' + b",".join(items) + b"]}"
        return self.h.send_json(200, body)

    def delete_collection(self):
        labels, fields = self.selectors()
        st, rt = self.st, self.rt
        dry = self.dry_run()
        deleted = []
        with st.lock:
            for kns, kname in list(st.sorted_keys(rt, self.ns)):
                cur = st.get(rt, kns, kname)
                if cur is None or not selector_matches(cur[0], labels, fields):
                    continue
                if not dry:
                    self.api.delete(rt, kns, kname)
                deleted.append(cur[1])
            rv = st.rv
        body = dumps({"kind": rt.kind + "List", "apiVersion": rt.api_version,
                      "metadata": {"resourceVersion": str(rv)}})
        return self.h.send_json(200, body[:-1] + b',"items":[' + b",".join(deleted) + b"]}")

    # ---- watch ----
    def watch(self):
        labels, fields = self.selectors()
        st, rt, h = self.st, self.rt, self.h
        rv_arg = self.q.get("resourceVersion") or ""
        if rv_arg not in ("", "0") and not rv_arg.isdigit():
            raise ApiError(400, "BadRequest", f'invalid resourceVersion "{rv_arg}"')
        timeout = self.q.get("timeoutSeconds")
        if timeout is not None and not timeout.isdigit():
            raise ApiError(400, "BadRequest", f'invalid timeoutSeconds "{timeout}"')
        timeout = int(timeout or 0) or DEFAULT_WATCH_TIMEOUT      # 0 means the default, as in Kubernetes
        bookmarks = self.q.get("allowWatchBookmarks") in ("1", "true")
        w = Watcher(st, rt, self.ns, labels, fields)
        initial = []
        expired = None
        with st.lock:
            if rv_arg in ("", "0"):
                for kns, kname in st.sorted_keys(rt, self.ns):
                    obj, js = st.objects[rt.key][kns][kname]
                    if w.matches(obj):
                        initial.append(event_line("ADDED", js))
            else:
                rv = int(rv_arg)
                if rv < st.forgotten_rv:
                    expired = rv
                else:
                    for ev in st.events_since(rt, rv):
                        t = w.translate(ev[2], ev[4], ev[5], ev[6], lambda js=ev[3]: json.loads(js))
                        if t:
                            initial.append(event_line(t, ev[3]))
            if expired is None:
                st.watchers.setdefault(rt.key, set()).add(w)
                self.srv.watch_streams.add(w)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Cache-Control", "no-cache, private")
        h.end_headers()

        as_table = ktable.wants_table(h.headers.get("Accept"))
        with st.lock:
            crd = self.crd_object()

        def chunk(data):
            if as_table and data:
                data = self.table_events(data, crd)
            h.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")

        try:
            if expired is not None:
                err = status_body(410, "Expired", f"too old resource version: {expired} ({st.forgotten_rv})")
                chunk(event_line("ERROR", dumps(err)))
                chunk(b"")
                h.wfile.write(b"")
                return
            if initial:
                for i in range(0, len(initial), 1000):
                    chunk(b"".join(initial[i:i + 1000]))
            initial = None
            deadline = time.monotonic() + timeout
            last_sent = time.monotonic()
            while True:
                now = time.monotonic()
                if now >= deadline:
                    chunk(b"")
                    return
                with st.lock:
                    if not w.queue and not w.cut and not w.overflow:
                        wait = min(deadline - now, PEER_CHECK_INTERVAL)
                        if bookmarks:
                            wait = min(wait, max(0.0, last_sent + BOOKMARK_INTERVAL - now))
                        w.cond.wait(wait)
                    lines = list(w.queue)
                    w.queue.clear()
                    cut, overflow = w.cut, w.overflow
                    cur_rv = st.rv
                if cut:
                    line = event_line("BOOKMARK", dumps({"kind": rt.kind, "apiVersion": rt.api_version,
                                                          "metadata": {"resourceVersion": str(cur_rv)}}))
                    half = (b"".join(lines) + line)[: len(b"".join(lines)) + len(line) // 2]
                    chunk(half)
                    h.wfile.flush()
                    h.close_connection = True
                    try:
                        h.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if lines:
                    chunk(b"".join(lines))
                    last_sent = time.monotonic()
                if overflow or peer_gone(h.connection):
                    h.close_connection = True
                    return
                if bookmarks and time.monotonic() - last_sent >= BOOKMARK_INTERVAL:
                    chunk(event_line("BOOKMARK", dumps({"kind": rt.kind, "apiVersion": rt.api_version,
                                                         "metadata": {"resourceVersion": str(cur_rv)}})))
                    last_sent = time.monotonic()
        except (ConnectionError, ssl.SSLError, OSError):
            h.close_connection = True
        finally:
            with st.lock:
                st.watchers.get(rt.key, set()).discard(w)
                self.srv.watch_streams.discard(w)

    def table_events(self, data, crd):
        """Watch lines with their objects as one-row Tables (kubectl get --watch)."""
        out = []
        for line in data.split(b"\n"):
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                out.append(line)        # half a line from a cut: passed on as it is
                continue
            if ev.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                ev["object"] = ktable.table(self.rt, crd, [ev["object"]], {
                    "resourceVersion": ev["object"]["metadata"].get("resourceVersion", "")})
            out.append(dumps(ev) + b"\n")
        return b"".join(out)

    # ---- service proxy ----
    def proxy(self):
        st = self.st
        raw = self.name or ""
        scheme = "http"
        parts = raw.split(":")
        if len(parts) == 3:
            scheme, name, port = parts
        elif len(parts) == 2:
            name, port = parts
        else:
            name, port = raw, ""
        if scheme not in ("http", "https"):
            raise ApiError(400, "BadRequest", f'invalid scheme "{scheme}"')
        with st.lock:
            svc = st.objects[("", "services")].get(self.ns, {}).get(name)
            ep = st.objects[("", "endpoints")].get(self.ns, {}).get(name)
        if svc is None:
            raise ApiError(404, "NotFound", f'services "{name}" not found', {"name": name, "kind": "services"})
        target = None
        subsets = (ep[0].get("subsets") if ep else None) or []
        if subsets and isinstance(subsets[0], dict):
            addrs = subsets[0].get("addresses") or []
            ports = subsets[0].get("ports") or []
            if addrs and ports and isinstance(addrs[0], dict):
                chosen = None
                if port:
                    for p in ports:
                        if p.get("name") == port or str(p.get("port")) == port:
                            chosen = p
                    if chosen is None:
                        for sp in (svc[0].get("spec") or {}).get("ports") or []:
                            if str(sp.get("port")) == port or sp.get("name") == port:
                                for p in ports:
                                    if p.get("name") == sp.get("name") or p.get("port") == sp.get("targetPort"):
                                        chosen = p
                else:
                    chosen = ports[0]
                if chosen is not None:
                    target = (addrs[0].get("ip"), chosen.get("port"))
        if target is None or not target[0] or not isinstance(target[1], int):
            raise ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{raw}"')
        path = self.req["proxy_path"]
        if self.req.get("trailing") and not path.endswith("/"):
            path += "/"
        qs = urllib.parse.urlsplit(self.h.path).query
        if qs:
            path += "?" + qs
        if scheme == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(target[0], target[1], timeout=60, context=ctx)
        else:
            conn = http.client.HTTPConnection(target[0], target[1], timeout=60)
        headers = {}
        for k in ("Content-Type", "Accept", "Accept-Encoding"):
            if self.h.headers.get(k):
                headers[k] = self.h.headers[k]
        # as kube-apiserver's proxy (Go's httputil.ReverseProxy): the caller's address appended
        # to whatever X-Forwarded-For the caller sent
        prior = ", ".join(self.h.headers.get_all("X-Forwarded-For") or [])
        headers["X-Forwarded-For"] = (prior + ", " if prior else "") + self.h.client_address[0]
        try:
            conn.request(self.method, path, body=self.body if self.body else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read(MAX_BODY * 4)
            code, ctype = resp.status, resp.getheader("Content-Type") or "application/octet-stream"
        except (OSError, http.client.HTTPException) as e:
            raise ApiError(503, "ServiceUnavailable",
                           f'error trying to reach service: {e}') from None
        finally:
            conn.close()
        return self.h.send_body(code, data, ctype)


class TestApi:
    """The /_test/ control endpoints (no token needed)."""

    def __init__(self, handler):
        self.h = handler
        self.srv = handler.server
        self.st = handler.server.store

    def body_json(self, body):
        if not body.strip():
            return {}
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, "BadRequest", f"the body of the request is not valid JSON: {e}") from None
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the body of the request must be a JSON object")
        return obj

    def handle(self, method, path, q, body):
        srv, st = self.srv, self.st
        p = path.rstrip("/")
        if p == "/_test/stats" and method == "GET":
            with st.lock:
                counts = dict(srv.stats)
            return self.h.send_json(200, {"counts": counts, "total": sum(counts.values())})
        if p == "/_test/stats/reset" and method == "POST":
            with st.lock:
                srv.stats.clear()
            return self.h.send_json(200, {"counts": {}, "total": 0})
        if p == "/_test/faults" and method == "POST":
            return self.add_fault(self.body_json(body))
        if p == "/_test/faults" and method == "GET":
            with st.lock:
                rules = [{k: v for k, v in r.items() if k not in ("regex", "expires")} for r in srv.faults]
            return self.h.send_json(200, {"faults": rules})
        if p == "/_test/faults" and method == "DELETE":
            with st.lock:
                n = len(srv.faults)
                srv.faults.clear()
            return self.h.send_json(200, {"cleared": n})
        if p == "/_test/watches" and method == "GET":
            with st.lock:
                by = collections.Counter(w.rtype.plural for w in srv.watch_streams)
            return self.h.send_json(200, {"open": sum(by.values()), "byResource": dict(by)})
        if p == "/_test/watches/cut" and method == "POST":
            with st.lock:
                n = 0
                for w in list(srv.watch_streams):
                    if not w.cut:
                        w.cut = True
                        w.cond.notify()
                        n += 1
            return self.h.send_json(200, {"cut": n})
        if p == "/_test/compact" and method == "POST":
            with st.lock:
                rv = st.compact()
            return self.h.send_json(200, {"resourceVersion": str(rv)})
        if p == "/_test/token" and method == "POST":
            doc = self.body_json(body)
            tok = doc.get("token")
            if tok is not None and (not isinstance(tok, str) or not tok):
                raise ApiError(400, "BadRequest", "token must be a non-empty string or null")
            with st.lock:
                srv.token = tok
            return self.h.send_json(200, {"token": "set" if tok else "none"})
        if p == "/_test/objects" and method == "GET":
            res = q.get("resource", "")
            with st.lock:
                rt = st.lookup_plural(res, q.get("group"))
                if rt is None:
                    raise ApiError(404, "NotFound", f'unknown resource "{res}"')
                ns = q.get("namespace") or None
                items = [st.objects[rt.key][k[0]][k[1]][0] for k in st.sorted_keys(rt, ns)]
                rv = st.rv
            return self.h.send_json(200, {"resourceVersion": str(rv), "items": items})
        if p == "/_test/healthz" and method == "GET":
            return self.h.send_json(200, {"ok": True})
        raise ApiError(404, "NotFound", f"unknown test endpoint {method} {path}")

    def add_fault(self, doc):
        method = doc.get("method", "*")
        if not isinstance(method, str):
            raise ApiError(400, "BadRequest", "method must be a string")
        try:
            regex = re.compile(doc.get("path", ""))
        except (re.error, TypeError) as e:
            raise ApiError(400, "BadRequest", f"path is not a valid regular expression: {e}") from None
        status = doc.get("status", 500)
        if not isinstance(status, int) or (status != 0 and not 400 <= status <= 599):
            raise ApiError(400, "BadRequest", "status must be 0 or an HTTP error status")
        rule = {"method": method.upper(), "path": doc.get("path", ""), "regex": regex, "status": status}
        for k in ("count", "retry_after", "delay", "probability", "duration"):
            v = doc.get(k)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or (k == "count" and v < 1):
                raise ApiError(400, "BadRequest", f"{k} must be a non-negative number (count at least 1)")
            rule[k] = v
        if "duration" in rule:
            rule["expires"] = time.monotonic() + rule["duration"]
            rule.pop("count", None)
        elif "count" not in rule and "probability" not in rule:
            rule["count"] = 1
        with self.st.lock:
            self.srv.fault_id += 1
            rule["id"] = self.srv.fault_id
            self.srv.faults.append(rule)
        return self.h.send_json(200, {"id": rule["id"]})


# ---------------------------------------------------------------------------
# start-up: certificates, kubeconfig, snapshot
# ---------------------------------------------------------------------------

def run_openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certs(d):
    """CA and server certificate for 127.0.0.1/localhost in d (kept if present)."""
    ca_crt, ca_key = os.path.join(d, "ca.crt"), os.path.join(d, "ca.key")
    crt, key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
    if all(os.path.exists(p) for p in (ca_crt, ca_key, crt, key)):
        return ca_crt, crt, key
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run_openssl("req", "-x509", *ec, "-keyout", ca_key, "-out", ca_crt, "-days", "3650",
                "-subj", "/CN=seal-test-apiserver-ca",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    csr = os.path.join(d, "server.csr")
    ext = os.path.join(d, "server.ext")
    run_openssl("req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "subjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid,issuer\n")
    run_openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                "-out", crt, "-days", "3650", "-extfile", ext)
    for p in (ca_key, key):
        os.chmod(p, 0o600)
    return ca_crt, crt, key


def yaml_str(s):
    return json.dumps(s)     # a JSON string is a valid YAML double-quoted scalar


def write_kubeconfig(path, url, ca_crt, token):
    lines = ["apiVersion: v1", "kind: Config", "clusters:", "- name: seal-test", "  cluster:",
             f"    server: {yaml_str(url)}"]
    if ca_crt:
        with open(ca_crt, "rb") as f:
            lines.append(f"    certificate-authority-data: {base64.b64encode(f.read()).decode()}")
    lines += ["users:", "- name: seal-test"]
    lines += ["  user:", f"    token: {yaml_str(token)}"] if token else ["  user: {}"]
    lines += ["contexts:", "- name: seal-test", "  context:", "    cluster: seal-test",
              "    user: seal-test", "    namespace: default", "current-context: seal-test", ""]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines))
    os.replace(tmp, path)


def load_snapshot(store, path):
    with open(path) as f:
        snap = json.load(f)
    crd_key = ("apiextensions.k8s.io", "customresourcedefinitions")
    objs = snap.get("objects") or []
    # CRDs first so their resources exist when their objects are loaded
    objs.sort(key=lambda o: 0 if (o["group"], o["plural"]) == crd_key else 1)
    with store.lock:
        for o in objs:
            key, obj = (o["group"], o["plural"]), o["object"]
            if key == crd_key:
                for nt in crd_types(obj):
                    store.register(nt)
            rt = store.by_key.get(key)
            if rt is None:
                continue
            meta = obj["metadata"]
            ns = meta.get("namespace", "") if rt.namespaced else ""
            store.objects[rt.key].setdefault(ns, {})[meta["name"]] = (obj, dumps(obj))
            store.uids[meta["uid"]] = (rt.key, ns, meta["name"])
            store._index_owners(rt.key, ns, meta["name"], None, obj)
            store.sorted[rt.key] = {}
        store.rv = int(snap.get("resourceVersion", 0))
        store.forgotten_rv = store.rv


def main(argv=None):
    ap = argparse.ArgumentParser(description="test Kubernetes API server for seal")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--kubeconfig-out", required=True)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--token")
    ap.add_argument("--compact-after", type=int, default=DEFAULT_COMPACT_AFTER)
    ap.add_argument("--state-dir")
    ap.add_argument("--namespace", action="append", default=[])
    ap.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = ap.parse_args(argv)
    if args.compact_after < 1:
        ap.error("--compact-after must be at least 1")

    srv = Server(("127.0.0.1", args.port), Handler, args)
    srv.api = Api(srv)
    snap_path = None
    if args.state_dir:
        os.makedirs(args.state_dir, exist_ok=True)
        snap_path = os.path.join(args.state_dir, "objects.json")
        if os.path.exists(snap_path):
            try:
                load_snapshot(srv.store, snap_path)
            except (OSError, ValueError, KeyError, TypeError, AttributeError, ApiError) as e:
                sys.stderr.write(f"apiserver: cannot load the snapshot \"{snap_path}\": {e!r}\n")
                return 2
    api = srv.api
    for ns in ["default", "kube-system", *args.namespace]:
        with srv.store.lock:
            if not srv.store.exists_namespace(ns):
                api.create(srv.store.lookup("", "v1", "namespaces"), None,
                           {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    ca_crt = None
    tmpdir = None
    if args.tls:
        d = args.state_dir
        if d is None:
            tmpdir = tempfile.TemporaryDirectory(prefix="seal-apiserver-")
            d = tmpdir.name
        ca_crt, crt, key = make_certs(d)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        ctx.set_alpn_protocols(["http/1.1"])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    port = srv.server_address[1]
    url = f"{'https' if args.tls else 'http'}://127.0.0.1:{port}"
    write_kubeconfig(args.kubeconfig_out, url, ca_crt, args.token)

    threading.Thread(target=api.gc_worker, name="gc", daemon=True).start()

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    print(f"ready {url}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        if snap_path:
            tmp = snap_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(srv.store.snapshot(), f)
            os.replace(tmp, snap_path)
        if tmpdir is not None:
            tmpdir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
