"""Object helpers for the test API server: Status errors, patches and selectors."""

import copy
import re


class ApiError(Exception):
    """An error answered as a Kubernetes Status."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}


def status_body(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details is not None:
        body["details"] = details
    return body


# ---- merge patch (RFC 7386), strategic merge patch treated the same ----

def merge_patch(target, patch, strategic=False):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if strategic and k.startswith("$"):
            continue            # $setElementOrder, $retainKeys, $patch: directives we do not model
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v, strategic)
    return out


# ---- JSON patch (RFC 6902) ----

def _bad(msg):
    return ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {msg}")


def _pointer(path):
    if not isinstance(path, str):
        raise ApiError(400, "BadRequest", "json patch: path must be a string")
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(400, "BadRequest", f'json patch: invalid pointer "{path}"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container, token, allow_end):
    if allow_end and token == "-":
        return len(container)
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise _bad(f'invalid array index "{token}"')
    i = int(token)
    limit = len(container) + (1 if allow_end else 0)
    if i >= limit:
        raise _bad(f"array index {i} out of bounds")
    return i


def _parent(doc, tokens):
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise _bad(f'path segment "{t}" does not exist')
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t, False)]
        else:
            raise _bad(f'path segment "{t}" is not a container')
    return cur


def _get(doc, tokens):
    if not tokens:
        return doc
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _bad(f'missing value at "/{"/".join(tokens)}"')
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, False)]
    raise _bad("path does not name a value")


def _add(doc, tokens, value):
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, True), value)
    else:
        raise _bad("path does not name a container")
    return doc


def _remove(doc, tokens):
    if not tokens:
        raise _bad("cannot remove the whole document")
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _bad(f'cannot remove missing "/{"/".join(tokens)}"')
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, False))
    raise _bad("path does not name a container")


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise ApiError(400, "BadRequest", "json patch: each operation needs an \"op\"")
        kind = op["op"]
        path = _pointer(op.get("path"))
        if kind in ("add", "replace", "test") and "value" not in op:
            raise ApiError(400, "BadRequest", f'json patch: "{kind}" needs a value')
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            if not path:
                doc = copy.deepcopy(op["value"])
            else:
                _remove(doc, path)
                doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise _bad(f'testing value at "{op.get("path")}" failed')
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from"))
            if kind == "move" and path[:len(src)] == src and path != src:
                raise _bad("cannot move a value into itself")
            value = _get(doc, src)
            if kind == "move":
                _remove(doc, src)
            else:
                value = copy.deepcopy(value)
            doc = _add(doc, path, value)
        else:
            raise ApiError(400, "BadRequest", f'json patch: unknown op "{kind}"')
    return doc


# ---- label and field selectors ----

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VAL = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


def _split_terms(s):
    terms, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ApiError(400, "BadRequest", f'unable to parse requirement: unbalanced ")" in "{s}"')
        if ch == "," and depth == 0:
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise ApiError(400, "BadRequest", f'unable to parse requirement: unbalanced "(" in "{s}"')
    terms.append("".join(cur))
    return [t.strip() for t in terms]


def parse_label_selector(s):
    """[(key, op, values)] with op one of = != in notin exists !exists."""
    s = (s or "").strip()
    if not s:
        return []
    reqs = []
    for t in _split_terms(s):
        if not t:
            raise ApiError(400, "BadRequest", f'unable to parse requirement: empty term in "{s}"')
        m = re.fullmatch(rf"({_KEY})\s+(in|notin)\s*\(([^)]*)\)", t)
        if m:
            vals = [v.strip() for v in m.group(4).split(",")]
            if not all(re.fullmatch(_VAL, v) for v in vals):
                raise ApiError(400, "BadRequest", f'unable to parse requirement: invalid value in "{t}"')
            reqs.append((m.group(1), m.group(3), set(vals)))
            continue
        m = re.fullmatch(rf"({_KEY})\s*(==|=|!=)\s*(\S*)", t)
        if m:
            if not re.fullmatch(_VAL, m.group(4)):
                raise ApiError(400, "BadRequest", f'unable to parse requirement: invalid value in "{t}"')
            op = "!=" if m.group(3) == "!=" else "="
            reqs.append((m.group(1), op, {m.group(4)}))
            continue
        m = re.fullmatch(rf"!\s*({_KEY})", t)
        if m:
            reqs.append((m.group(1), "!exists", None))
            continue
        m = re.fullmatch(_KEY, t)
        if m:
            reqs.append((t, "exists", None))
            continue
        raise ApiError(400, "BadRequest", f'unable to parse requirement: "{t}"')
    return reqs


FIELDS = {
    "metadata.name": lambda o: (o.get("metadata") or {}).get("name", ""),
    "metadata.namespace": lambda o: (o.get("metadata") or {}).get("namespace", ""),
}
EXTRA_FIELDS = {
    ("", "secrets"): {"type": lambda o: o.get("type", "")},
    ("", "events"): {
        "involvedObject.name": lambda o: (o.get("involvedObject") or {}).get("name", ""),
        "involvedObject.kind": lambda o: (o.get("involvedObject") or {}).get("kind", ""),
        "involvedObject.namespace": lambda o: (o.get("involvedObject") or {}).get("namespace", ""),
        "involvedObject.uid": lambda o: (o.get("involvedObject") or {}).get("uid", ""),
        "reason": lambda o: o.get("reason", ""),
        "type": lambda o: o.get("type", ""),
    },
}


def parse_field_selector(s, rt):
    """[(getter, op, value)] for metadata.name, metadata.namespace and a few per-kind fields."""
    s = (s or "").strip()
    if not s:
        return []
    known = dict(FIELDS)
    known.update(EXTRA_FIELDS.get(rt.key, {}))
    out = []
    for t in s.split(","):
        m = re.fullmatch(r"\s*([A-Za-z.]+)\s*(==|=|!=)\s*(.*?)\s*", t)
        if not m:
            raise ApiError(400, "BadRequest", f'invalid field selector: "{t}"')
        field, op, value = m.groups()
        if field not in known:
            raise ApiError(400, "BadRequest",
                           f'"{field}" is not a known field selector: only "metadata.name", "metadata.namespace"')
        out.append((known[field], "!=" if op == "!=" else "=", value))
    return out


def labels_match(have, reqs):
    have = have or {}
    for key, op, vals in reqs:
        present = key in have
        if op in ("=", "in"):
            if not present or have[key] not in vals:
                return False
        elif op in ("!=", "notin"):
            if present and have[key] in vals:
                return False
        elif op == "exists":
            if not present:
                return False
        elif op == "!exists":
            if present:
                return False
    return True


def field_matches(obj, fields):
    for getter, op, value in fields:
        if (getter(obj) == value) != (op == "="):
            return False
    return True


def selector_matches(obj, labels, fields):
    if labels and not labels_match((obj.get("metadata") or {}).get("labels"), labels):
        return False
    return not fields or field_matches(obj, fields)
