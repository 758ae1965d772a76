"""meta.k8s.io/v1 Table answers for `kubectl get` (Accept: ...;as=Table;g=meta.k8s.io;v=v1):
Name and Age for every kind, a few built-in columns, and a CRD's additionalPrinterColumns
(JSONPath subset: .a.b, .a[0], .a[*], .a[?(@.k=="v")].b)."""

import calendar
import json
import re
import time

_STEP = re.compile(r'\.([A-Za-z0-9_$-]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_.-]+)\s*==\s*(?:"([^"]*)"|\'([^\']*)\')\)\]')


def jsonpath(obj, path):
    """Every value at path (a small JSONPath subset); [] when nothing matches."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    cur = [obj]
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if not m:
            return []
        pos = m.end()
        nxt = []
        for v in cur:
            if m.group(1) is not None:
                if isinstance(v, dict) and m.group(1) in v:
                    nxt.append(v[m.group(1)])
            elif m.group(2) is not None:
                if isinstance(v, list):
                    if m.group(2) == "*":
                        nxt.extend(v)
                    elif int(m.group(2)) < len(v):
                        nxt.append(v[int(m.group(2))])
            else:
                want = m.group(4) if m.group(4) is not None else m.group(5)
                if isinstance(v, list):
                    for item in v:
                        got = item
                        for part in m.group(3).split("."):
                            got = got.get(part) if isinstance(got, dict) else None
                        if got is not None and str(got) == want:
                            nxt.append(item)
        cur = nxt
    return cur


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        y = h // (24 * 365)
        d = (h // 24) % 365
        return f"{y}y{d}d" if d else f"{y}y"
    return f"{h // (24 * 365)}y"


def age(ts):
    try:
        t = calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ"))
    except (TypeError, ValueError):
        return "<unknown>"
    return human_duration(time.time() - t)


def _col(name, typ="string", fmt="", desc=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": 0}


BUILTIN = {
    ("", "secrets"): [(_col("Type"), lambda o: o.get("type", "")),
                      (_col("Data", "integer"), lambda o: len(o.get("data") or {}))],
    ("", "configmaps"): [(_col("Data", "integer"),
                          lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))],
    ("", "namespaces"): [(_col("Status"), lambda o: (o.get("status") or {}).get("phase", ""))],
    ("coordination.k8s.io", "leases"): [(_col("Holder"),
                                         lambda o: (o.get("spec") or {}).get("holderIdentity", ""))],
}


def columns(rt, crd):
    """[(column definition, cell function)] for rt; crd is its CRD object or None."""
    cols = [(_col("Name", fmt="name", desc="Name must be unique within a namespace"),
             lambda o: (o.get("metadata") or {}).get("name", ""))]
    printer = None
    if crd is not None:
        for v in (crd.get("spec") or {}).get("versions") or []:
            if v.get("name") == rt.version:
                printer = v.get("additionalPrinterColumns")
    if printer:
        has_age = False
        for pc in printer:
            path, typ = pc.get("jsonPath", ""), pc.get("type", "string")
            if path == ".metadata.creationTimestamp":
                has_age = True

            def cell(o, path=path, typ=typ):
                vals = jsonpath(o, path)
                if not vals:
                    return None
                if typ == "date":
                    return age(vals[0])
                if len(vals) == 1:
                    return vals[0] if not isinstance(vals[0], (dict, list)) else json.dumps(vals[0])
                return ",".join(str(v) for v in vals)
            cols.append((_col(pc.get("name", ""), typ, pc.get("format", ""), pc.get("description", "")), cell))
        if not has_age:
            cols.append((_col("Age", "date"), lambda o: age((o.get("metadata") or {}).get("creationTimestamp"))))
        return cols
    cols += BUILTIN.get(rt.key, [])
    cols.append((_col("Age", "string", desc="CreationTimestamp"),
                 lambda o: age((o.get("metadata") or {}).get("creationTimestamp"))))
    return cols


def wants_table(accept):
    """True when the Accept header asks for a meta.k8s.io/v1 Table first."""
    for part in (accept or "").split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") == "v1":
            return True
        if part.strip().split(";")[0].strip() in ("application/json", "*/*"):
            return False
    return False


def table(rt, crd, objs, list_meta):
    cols = columns(rt, crd)
    rows = []
    for o in objs:
        rows.append({"cells": [fn(o) for _c, fn in cols],
                     "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                "metadata": o.get("metadata") or {}}})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": [c for c, _fn in cols], "rows": rows}
