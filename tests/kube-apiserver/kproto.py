"""Decoding of the Kubernetes protobuf envelope for the few kinds kubectl's
typed generators create (`kubectl create secret|configmap|namespace|serviceaccount`).

Only request bodies are decoded; answers are always JSON (kubectl accepts it).
Field numbers follow k8s.io/api/core/v1/generated.proto and
k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto.
"""

import base64

from kobjects import ApiError

MAGIC = b"k8s\x00"
MAX_DEPTH = 16


def _bad(msg):
    return ApiError(400, "BadRequest", f"the body of the request is not valid protobuf: {msg}")


def _varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise _bad("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise _bad("varint too long")


def fields(buf):
    """[(field number, wire type, value)] of one message; value is int or bytes."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = _varint(buf, i)
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise _bad("truncated field")
            val, i = buf[i:i + n], i + n
        elif wt == 1:
            val, i = buf[i:i + 8], i + 8
        elif wt == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise _bad(f"unsupported wire type {wt}")
        if i > len(buf):
            raise _bad("truncated field")
        out.append((num, wt, val))
    return out


def _str(v):
    if not isinstance(v, bytes):
        raise _bad("a string field has the wrong wire type")
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("a string is not UTF-8") from None


def _map(v, value_bytes=False):
    key = val = None
    for num, _wt, x in fields(v):
        if num == 1:
            key = _str(x)
        elif num == 2:
            val = base64.b64encode(x).decode() if value_bytes else _str(x)
    return key or "", val if val is not None else ""


def _owner_ref(v):
    names = {1: "kind", 3: "name", 4: "uid", 5: "apiVersion"}
    ref = {}
    for num, wt, x in fields(v):
        if num in names:
            ref[names[num]] = _str(x)
        elif num in (6, 7) and wt == 0:
            ref["controller" if num == 6 else "blockOwnerDeletion"] = bool(x)
    return ref


def object_meta(v):
    names = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
    meta = {}
    for num, _wt, x in fields(v):
        if num in names:
            s = _str(x)
            if s:
                meta[names[num]] = s
        elif num in (11, 12):
            k, val = _map(x)
            meta.setdefault("labels" if num == 11 else "annotations", {})[k] = val
        elif num == 13:
            meta.setdefault("ownerReferences", []).append(_owner_ref(x))
        elif num == 14:
            meta.setdefault("finalizers", []).append(_str(x))
    return meta


def _finalizers(x):
    return {"finalizers": [_str(f) for n, _w, f in fields(x) if n == 1]}


def _local_ref(x):
    return {"name": _str(f) for n, _w, f in fields(x) if n == 1}


# field number -> (JSON field, how): "meta", "str", "bool", "map" (string values),
# "bytesmap" (bytes values, base64 in JSON), "list" + element decoder, or a decoder
SCHEMAS = {
    ("v1", "Secret"): {1: ("metadata", "meta"), 2: ("data", "bytesmap"), 3: ("type", "str"),
                       4: ("stringData", "map"), 5: ("immutable", "bool")},
    ("v1", "ConfigMap"): {1: ("metadata", "meta"), 2: ("data", "map"), 3: ("binaryData", "bytesmap"),
                          4: ("immutable", "bool")},
    ("v1", "Namespace"): {1: ("metadata", "meta"), 2: ("spec", _finalizers)},
    ("v1", "ServiceAccount"): {1: ("metadata", "meta"), 3: ("imagePullSecrets", ("list", _local_ref)),
                               4: ("automountServiceAccountToken", "bool")},
}


def _message(msg, schema):
    obj = {}
    for num, wt, x in fields(msg):
        if num not in schema:
            continue
        name, how = schema[num]
        if how == "meta":
            obj[name] = object_meta(x)
        elif how == "str":
            obj[name] = _str(x)
        elif how == "bool":
            if wt != 0:
                raise _bad(f"{name} has the wrong wire type")
            obj[name] = bool(x)
        elif how in ("map", "bytesmap"):
            k, val = _map(x, value_bytes=how == "bytesmap")
            obj.setdefault(name, {})[k] = val
        elif isinstance(how, tuple):
            obj.setdefault(name, []).append(how[1](x))
        else:
            obj[name] = how(x)
    return obj


def decode(body):
    """The JSON-shaped object of a protobuf request body (ApiError 400/415 otherwise)."""
    if not body.startswith(MAGIC):
        raise _bad("missing the k8s envelope")
    api_version = kind = raw = None
    for num, _wt, x in fields(body[len(MAGIC):]):
        if num == 1:
            for n, _w, y in fields(x):
                if n == 1:
                    api_version = _str(y)
                elif n == 2:
                    kind = _str(y)
        elif num == 2:
            raw = x
        elif num == 3 and x:
            raise _bad("content encodings are not supported")
    if not api_version or not kind:
        raise _bad("the envelope names no apiVersion and kind")
    schema = SCHEMAS.get((api_version, kind))
    if schema is None:
        raise ApiError(415, "UnsupportedMediaType",
                       f"protobuf bodies are accepted for Secret, ConfigMap, Namespace and ServiceAccount only, "
                       f"not {kind}; send JSON")
    obj = {"apiVersion": api_version, "kind": kind}
    obj.update(_message(raw or b"", schema))
    obj.setdefault("metadata", {})
    return obj
