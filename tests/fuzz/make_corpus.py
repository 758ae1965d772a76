#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/.

    tests/fuzz/make_corpus.py [TESTVECTORS_JSON]

The seeds are small files: the test vectors of tests/vectors/seal-v1.json as
individual inputs, valid documents, and hostile cases (deep nesting, alias
bombs, truncated blocks, CRLF, a BOM, huge counts). Files this script does
not write (inputs that once crashed a target, named crash-*) are left alone.
Run it again after changing it and commit the result.
"""

import base64
import json
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
VECTORS = os.path.join(HERE, "..", "vectors", "seal-v1.json")


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


class Corpus:
    def __init__(self, target):
        self.dir = os.path.join(CORPUS, target)
        os.makedirs(self.dir, exist_ok=True)
        self.names = set()

    def add(self, name, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        name = slug(name)
        assert name not in self.names, name
        self.names.add(name)
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)


def armored(kind, b64, headers=(), eol="\n"):
    lines = ["-----BEGIN SEAL %s KEY-----" % kind]
    lines += ["%s: %s" % h for h in headers]
    lines += [b64, "-----END SEAL %s KEY-----" % kind]
    return eol.join(lines) + eol


def armor_public(v):
    c = Corpus("armor_public")
    for i, k in enumerate(v["keys"]):
        c.add("key-%d" % i, k["public_armored"])
    for i, a in enumerate(v["armored"]["valid"]):
        c.add("vector-valid-%d" % i, a["text"])
    for a in v["armored"]["invalid"]:
        c.add("vector-invalid-" + a["description"], a["text"])
    pub = v["keys"][0]["public"]
    c.add("all-three-keys", "".join(k["public_armored"] for k in v["keys"]))
    c.add("headers", armored("PUBLIC", pub, [("Key-Id", v["keys"][0]["kid"]),
                                             ("Created", "2026-11-25T00:00:00Z"),
                                             ("Comment", "prod-eu")]))
    c.add("crlf", armored("PUBLIC", pub, [("Key-Id", v["keys"][0]["kid"])], "\r\n"))
    c.add("bom", "\ufeff" + armored("PUBLIC", pub))
    c.add("no-final-newline", armored("PUBLIC", pub).rstrip("\n"))
    c.add("truncated-begin", "-----BEGIN SEAL PUBLIC")
    c.add("truncated-key", "-----BEGIN SEAL PUBLIC KEY-----\n" + pub[:20])
    c.add("end-without-begin", "-----END SEAL PUBLIC KEY-----\n")
    c.add("begin-twice", "-----BEGIN SEAL PUBLIC KEY-----\n" + armored("PUBLIC", pub))
    c.add("two-key-lines", armored("PUBLIC", pub + "\n" + pub))
    c.add("no-key-line", "-----BEGIN SEAL PUBLIC KEY-----\n-----END SEAL PUBLIC KEY-----\n")
    c.add("mismatched-end", "-----BEGIN SEAL PUBLIC KEY-----\n%s\n-----END SEAL PRIVATE KEY-----\n" % pub)
    c.add("header-after-key", "-----BEGIN SEAL PUBLIC KEY-----\n%s\nKey-Id: x\n-----END SEAL PUBLIC KEY-----\n" % pub)
    c.add("header-bad-name", armored("PUBLIC", pub, [("Key_Id!", "x")]))
    c.add("header-no-space", "-----BEGIN SEAL PUBLIC KEY-----\nKey-Id:x\n%s\n-----END SEAL PUBLIC KEY-----\n" % pub)
    c.add("header-long", armored("PUBLIC", pub, [("X", "a" * 5000)]))
    c.add("key-33-bytes", armored("PUBLIC", base64.b64encode(bytes(33)).decode()))
    c.add("key-unused-bits", armored("PUBLIC", pub[:-2] + "D="))
    c.add("key-with-spaces", armored("PUBLIC", " " + pub + " "))
    c.add("key-no-padding", armored("PUBLIC", pub.rstrip("=")))
    c.add("nul-in-key", armored("PUBLIC", pub[:10] + "\0" + pub[11:]))
    c.add("bare-cr", armored("PUBLIC", pub, eol="\r"))
    for i, low in enumerate(v["low_order_public_keys"]):
        c.add("low-order-%d" % i, armored("PUBLIC", low))
    c.add("seventeen-blocks", armored("PUBLIC", pub) * 17)
    c.add("many-blocks", "".join(k["public_armored"] for k in v["keys"]) * 100)
    c.add("many-lines-outside", "x\n" * 3000 + armored("PUBLIC", pub))
    c.add("long-line-outside", "x" * 70000 + "\n" + armored("PUBLIC", pub))
    c.add("empty", "")


def armor_private(v):
    c = Corpus("armor_private")
    for i, k in enumerate(v["keys"]):
        c.add("key-%d" % i, k["private_armored"])
    sk = v["keys"][0]["private"]
    kid = v["keys"][0]["kid"]
    c.add("all-three-keys", "".join(k["private_armored"] for k in v["keys"]))
    c.add("backup", "".join(
        armored("PRIVATE", k["private"], [("Key-Id", k["kid"]), ("Created", "2026-11-%02dT10:00:00Z" % (i + 1)),
                                          ("State", "compromised" if i == 1 else "active")])
        for i, k in enumerate(v["keys"])))
    c.add("created-fraction-offset", armored("PRIVATE", sk, [("Created", "2026-11-25T10:00:00.123456+02:00")]))
    c.add("created-bad", armored("PRIVATE", sk, [("Created", "yesterday")]))
    c.add("created-far-future", armored("PRIVATE", sk, [("Created", "9999-12-31T23:59:59Z")]))
    c.add("created-year-0", armored("PRIVATE", sk, [("Created", "0000-01-01T00:00:00Z")]))
    c.add("created-feb-30", armored("PRIVATE", sk, [("Created", "2026-02-30T00:00:00Z")]))
    c.add("created-huge-offset", armored("PRIVATE", sk, [("Created", "2026-11-25T00:00:00+99:99")]))
    c.add("created-long-fraction", armored("PRIVATE", sk, [("Created", "2026-11-25T00:00:00." + "9" * 400 + "Z")]))
    c.add("state-bad", armored("PRIVATE", sk, [("State", "retired")]))
    c.add("state-empty", armored("PRIVATE", sk, [("State", "")]))
    c.add("key-id-wrong", armored("PRIVATE", sk, [("Key-Id", "0000000000000000")]))
    c.add("duplicate-key", armored("PRIVATE", sk, [("Key-Id", kid)]) * 2)
    c.add("public-and-private", v["keys"][0]["public_armored"] + v["keys"][1]["private_armored"])
    c.add("public-only", v["keys"][0]["public_armored"])
    c.add("crlf", armored("PRIVATE", sk, [("Key-Id", kid), ("State", "active")], "\r\n"))
    c.add("bom", "\ufeff" + armored("PRIVATE", sk))
    c.add("truncated", armored("PRIVATE", sk)[:60])
    c.add("good-then-bad", v["keys"][0]["private_armored"] + armored("PRIVATE", "not base64"))
    c.add("zero-key", armored("PRIVATE", base64.b64encode(bytes(32)).decode()))
    c.add("ff-key", armored("PRIVATE", base64.b64encode(b"\xff" * 32).decode()))
    c.add("seventeen-keys", "".join(
        armored("PRIVATE", base64.b64encode(bytes([i + 1]) * 32).decode()) for i in range(17)))
    c.add("empty", "")


def unseal(v):
    c = Corpus("unseal")
    cb = Corpus("unseal_blob")
    labels = sorted(set(x["label"] for x in v["valid"]))
    # fuzz_unseal_blob picks its label with the first byte, from harness.c's list.
    blob_labels = ["strict/kotaemon/api-keys/OPENAI_API_KEY", "namespace/kotaemon/db.password", "cluster/token"]
    assert set(labels) <= set(blob_labels)
    for kind in ("valid", "invalid"):
        for x in v[kind]:
            name = kind + "-" + x["description"]
            if len(x["sealed"]) > 4096:
                continue  # the 64 KiB value: too large to be a useful seed
            c.add(name, x["label"] + "\n" + x["sealed"])
            try:
                blob = base64.b64decode(x["sealed"], validate=True)
            except ValueError:
                continue
            if x["label"] in blob_labels:
                cb.add(name, bytes([blob_labels.index(x["label"])]) + blob)
    one = v["valid"][0]["sealed"]
    blob = base64.b64decode(one)
    c.add("no-label", one)
    c.add("empty-label", "\n" + one)
    c.add("long-label", "x" * 2000 + "\n" + one)
    c.add("label-with-nul", "strict/kotaemon\0/api-keys/OPENAI_API_KEY\n" + one)
    c.add("crlf", v["valid"][0]["label"] + "\r\n" + one)
    c.add("trailing-newline", v["valid"][0]["label"] + "\n" + one + "\n")
    c.add("not-base64", v["valid"][0]["label"] + "\n!!!!")
    c.add("base64-url", v["valid"][0]["label"] + "\n" + base64.urlsafe_b64encode(blob).decode())
    c.add("only-header", v["valid"][0]["label"] + "\n" + base64.b64encode(b"\x01\x10").decode())
    huge = b"\x01\xff" + blob[2:]
    c.add("count-255", v["valid"][0]["label"] + "\n" + base64.b64encode(huge).decode())
    cb.add("count-255", b"\x00" + huge)
    cb.add("count-16-short", b"\x00\x01\x10" + blob[2:])
    cb.add("empty-blob", b"\x00")
    cb.add("header-only", b"\x00\x01\x01")
    cb.add("minimum-length", b"\x00" + blob[:2 + 88 + 56 + 16])
    cb.add("below-minimum", b"\x00" + blob[:2 + 88 + 56 + 15])
    # Sixteen stanzas, none ours: the longest search through the header.
    stanzas = b"".join(bytes([i]) * 8 + blob[10:90] for i in range(16))
    cb.add("sixteen-foreign-stanzas", b"\x00\x01\x10" + stanzas + blob[90:])
    # Our stanza last of sixteen.
    stanzas = b"".join(bytes([i + 1]) * 8 + blob[10:90] for i in range(15)) + blob[2:90]
    cb.add("ours-last-of-sixteen", b"\x00\x01\x10" + stanzas + blob[90:])


def base64_texts(v):
    """fuzz_base64: canonical and non-canonical base64 texts, the vectors' sealed
    values among them."""
    c = Corpus("base64")
    for kind in ("valid", "invalid"):
        for x in v[kind]:
            if len(x["sealed"]) <= 4096:
                c.add(kind + "-" + x["description"], x["sealed"])
    for name, text in [("empty", b""), ("one-byte", b"QQ=="), ("two-bytes", b"QUI="),
                       ("three-bytes", b"QUJD"), ("unused-bits-one", b"QR=="),
                       ("unused-bits-two", b"QUJ="), ("no-padding", b"QQ"),
                       ("padding-inside", b"QQ==QUJD"), ("three-padding", b"Q==="),
                       ("url-alphabet", b"-_8="), ("space", b"QU JD"), ("newline", b"QUJD\n"),
                       ("nul", b"QUJD\0A=="), ("high-bytes", b"\xff\xff\xff\xff"),
                       ("high-byte-in-tail", b"QUJD\x80A=="), ("all-alphabet",
                       b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")]:
        c.add(name, text)


SECRET = """apiVersion: v1
kind: Secret
metadata:
  name: api-keys
  namespace: kotaemon
  labels:
    app: kotaemon
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"secret": "do not copy"}'
type: Opaque
data:
  OPENAI_API_KEY: c2stdGVzdC0wMTIzNDU2Nzg5
stringData:
  DB_PASSWORD: hunter2
"""


def sealed_secret(name, ns, scope, data, template=None, extra_meta=""):
    out = ["apiVersion: seal.dev/v1", "kind: SealedSecret", "metadata:",
           "  name: %s" % name, "  namespace: %s" % ns, "  uid: 5f0c7d4e-0000-4000-8000-000000000001"]
    if scope:
        out += ["  annotations:", "    seal.dev/scope: %s" % scope]
    out += [extra_meta] if extra_meta else []
    out += ["spec:", "  encryptedData:"]
    out += ["    %s: %s" % kv for kv in data]
    if template:
        out += ["  template:"] + ["    " + line for line in template.splitlines()]
    return "\n".join(out) + "\n"


def vector_sealed_secrets(v):
    """SealedSecrets whose values are the vectors' and open with their keys."""
    val = {x["description"]: x for x in v["valid"]}
    bad = {x["description"]: x for x in v["invalid"]}
    strict = [(k, val[k]["sealed"]) for k in ("one recipient, short value", "empty value",
                                               "binary value with NUL bytes")]
    docs = {
        "sealed-strict": sealed_secret("api-keys", "kotaemon", None,
                                       [("OPENAI_API_KEY", val["one recipient, short value"]["sealed"])],
                                       "type: Opaque\nmetadata:\n  labels:\n    app: kotaemon\n"),
        "sealed-two-recipients": sealed_secret("api-keys", "kotaemon", "strict",
                                               [("OPENAI_API_KEY", val["two recipients, opened by the second"]["sealed"])]),
        "sealed-namespace-wide": sealed_secret("anything", "kotaemon", "namespace-wide",
                                               [("db.password", val["namespace-wide label"]["sealed"])]),
        "sealed-cluster-wide": sealed_secret("anything", "elsewhere", "cluster-wide",
                                             [("token", val["cluster-wide label"]["sealed"])]),
        "sealed-template": sealed_secret(
            "anything", "kotaemon", "namespace-wide",
            [("db.password", val["namespace-wide label"]["sealed"])],
            "type: Opaque\nimmutable: true\nmetadata:\n  labels: {app: db}\n"
            "  annotations:\n    argocd.argoproj.io/tracking-id: 'x'\n"
            "data:\n  DATABASE_URL: 'postgres://kotaemon:{{ .db.password }}@db:5432/kb'\n"
            "  PLAIN: 'eA=='\n  BROKEN: '{{ .missing }}'\n  UNCLOSED: '{{ .db.password'\n"),
        "sealed-skip-owner": sealed_secret(
            "api-keys", "kotaemon", None, [("OPENAI_API_KEY", val["UTF-8 value"]["sealed"])],
            "metadata:\n  annotations:\n    seal.dev/skip-owner-reference: 'true'\n"),
        "sealed-service-account-token": sealed_secret(
            "api-keys", "kotaemon", None, [("OPENAI_API_KEY", val["one recipient, short value"]["sealed"])],
            "type: kubernetes.io/service-account-token\n"),
        "sealed-wrong-namespace": sealed_secret("api-keys", "other", None,
                                                [("OPENAI_API_KEY", val["one recipient, short value"]["sealed"])]),
        "sealed-wrong-key": sealed_secret("api-keys", "kotaemon", None,
                                          [("OTHER", val["one recipient, short value"]["sealed"])]),
        "sealed-bad-scope": sealed_secret("api-keys", "kotaemon", "galaxy-wide",
                                          [("OPENAI_API_KEY", val["one recipient, short value"]["sealed"])]),
        "sealed-tampered-and-good": sealed_secret(
            "api-keys", "kotaemon", None,
            [("OPENAI_API_KEY", bad["last byte of body flipped"]["sealed"]),
             ("A", bad["unknown version 2"]["sealed"]),
             ("B", bad["holder lacks the recipient key"]["sealed"])]),
        "sealed-no-name": "apiVersion: seal.dev/v1\nkind: SealedSecret\nmetadata: {namespace: x}\nspec:\n  encryptedData: {a: AQ==}\n",
        "sealed-no-encrypted-data": "apiVersion: seal.dev/v1\nkind: SealedSecret\nmetadata: {name: a, namespace: b}\nspec: {}\n",
        "sealed-encrypted-data-list": "apiVersion: seal.dev/v1\nkind: SealedSecret\nmetadata: {name: a, namespace: b}\nspec:\n  encryptedData: [a, b]\n",
        "sealed-value-number": "apiVersion: seal.dev/v1\nkind: SealedSecret\nmetadata: {name: a, namespace: b}\nspec:\n  encryptedData: {a: 12}\n",
        "sealed-bad-data-key": "apiVersion: seal.dev/v1\nkind: SealedSecret\nmetadata: {name: a, namespace: b}\nspec:\n  encryptedData: {'../x': AQ==}\n",
        "sealed-bad-name": "apiVersion: seal.dev/v1\nkind: SealedSecret\nmetadata: {name: 'A_B', namespace: b}\nspec:\n  encryptedData: {a: AQ==}\n",
    }
    docs["sealed-multi"] = "---\n".join([docs["sealed-strict"], docs["sealed-namespace-wide"], SECRET])
    items = [doc_to_json(d) for d in (docs["sealed-strict"], docs["sealed-cluster-wide"])]
    docs["sealed-list-json"] = json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2)
    docs["sealed-json"] = json.dumps(items[0], indent=2)
    return docs, strict


def doc_to_json(text):
    """A tiny converter for the simple block YAML this script writes."""
    root = {}
    stack = [(-1, root)]
    for line in text.splitlines():
        if not line.strip() or line.startswith("---"):
            continue
        indent = len(line) - len(line.lstrip())
        key, _, value = line.strip().partition(":")
        value = value.strip()
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if value == "":
            parent[key] = {}
            stack.append((indent, parent[key]))
        else:
            parent[key] = value.strip("'")
    return root


def documents(v):
    y = Corpus("yaml")
    j = Corpus("json")
    docs, _ = vector_sealed_secrets(v)
    for name, text in docs.items():
        (j if "json" in name else y).add(name, text)
    y.add("secret", SECRET)
    y.add("secret-crlf", SECRET.replace("\n", "\r\n"))
    y.add("secret-bom", "\ufeff" + SECRET)
    y.add("secret-flow", '{apiVersion: v1, kind: Secret, metadata: {name: a, namespace: b}, stringData: {x: "1"}}\n')
    y.add("list", "apiVersion: v1\nkind: List\nitems:\n- " + SECRET.replace("\n", "\n  ").rstrip() + "\n- {kind: ConfigMap}\n")
    y.add("secret-list-kind", "apiVersion: v1\nkind: SecretList\nitems: []\n")
    y.add("empty-documents", "---\n---\n# only a comment\n---\n")
    y.add("stream-end", "a: 1\n...\n---\nb: 2\n")
    y.add("anchors-merge", "base: &base {a: 1, b: 2}\nderived:\n  <<: *base\n  c: 3\nlist: [*base, *base]\n")
    y.add("merge-list", "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n")
    y.add("merge-bad", "a: 1\nb:\n  <<: 5\n")
    y.add("alias-undefined", "a: *nothere\n")
    y.add("alias-recursive", "a: &a [*a]\n")
    y.add("alias-key", "&k key: value\n*k : other\n")
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        bomb.append("%s: &%s [%s]" % (cur, cur, ", ".join(["*" + prev] * 10)))
    y.add("billion-laughs", "\n".join(bomb) + "\n")
    y.add("deep-flow-seq", "[" * 10000 + "]" * 10000 + "\n")
    y.add("deep-flow-map", "{a: " * 5000 + "1" + "}" * 5000 + "\n")
    y.add("deep-block", "".join("  " * i + "k:\n" for i in range(200)) + "  " * 200 + "k: v\n")
    y.add("depth-64", "{a: " * 63 + "1" + "}" * 63 + "\n")
    y.add("depth-65", "{a: " * 65 + "1" + "}" * 65 + "\n")
    y.add("truncated", SECRET[:len(SECRET) // 2])
    y.add("truncated-quote", 'a: "unterminated\n')
    y.add("tabs", "a:\n\tb: 1\n")
    y.add("tags", "a: !!str 123\nb: !!int '7'\nc: !!binary aGVsbG8=\nd: !custom x\ne: !!float 1e3\n")
    y.add("scalars", "a: 1\nb: -0x1F\nc: 0o17\nd: 1.5e300\ne: .inf\nf: .nan\ng: ~\nh: null\ni: yes\nj: True\n"
          "k: '123'\nl: \"1.0\"\nm: 99999999999999999999999\nn: -9223372036854775808\no: 0.1\np: ''\nq: '-'\n"
          "r: 'a: b'\ns: '#x'\nt: ' lead'\nu: 'trail '\nv: \"tab\\tnewline\\n\"\nw: 2026-11-25\nx: \"\\u0000\"\n")
    y.add("block-scalars", "a: |\n  line1\n  line2\nb: >-\n  folded\n  text\nc: |+\n  keep\n\nd: |2\n    indented\n")
    y.add("duplicate-keys", "a: 1\na: 2\n")
    y.add("complex-key", "? [a, b]\n: 1\n")
    y.add("non-string-keys", "1: a\ntrue: b\nnull: c\n1.5: d\n")
    y.add("top-level-scalar", "just a string\n")
    y.add("top-level-seq", "- a\n- b\n")
    y.add("directive", "%YAML 1.1\n%TAG ! tag:example.com,2000:\n---\na: 1\n")
    y.add("utf8", "name: \"caf\u00e9 \U0001F511\"\nbad: \"\\ud800\"\n")
    y.add("invalid-utf8", b"a: \xff\xfe\n")
    y.add("nul-byte", b"a: b\x00c\n")
    y.add("many-documents", "---\na: 1\n" * 2000)
    y.add("many-keys", "\n".join("k%d: v" % i for i in range(2000)) + "\n")
    y.add("long-string", "a: " + "x" * 100000 + "\n")
    y.add("json-in-yaml", ' \n  # comment\n{"a": 1}\n')

    j.add("secret", json.dumps(doc_to_json(SECRET), indent=2))
    j.add("concatenated", '{"a": 1}{"b": 2}\n{"c": [1, 2, {"d": null}]}')
    j.add("array-top", '[{"kind": "Secret"}, 1, "x"]')
    j.add("list", json.dumps({"apiVersion": "v1", "kind": "List", "items": [doc_to_json(SECRET), {"kind": "X"}]}))
    j.add("bom", "\ufeff" + '{"a": 1}')
    j.add("crlf", '{\r\n "a": 1,\r\n "b": [true, false, null]\r\n}\r\n')
    j.add("numbers", '{"a": 1e308, "b": -0.0, "c": 123456789012345678901234567890, "d": 1.7976931348623157e309,'
          ' "e": -9223372036854775808, "f": 9223372036854775807, "g": 0.1, "h": 5e-324, "i": 1E+2}')
    j.add("escapes", '{"a": "\\u0000", "b": "\\ud83d\\udd11", "c": "\\ud800", "d": "\\"\\\\\\/\\b\\f\\n\\r\\t"}')
    j.add("duplicate-keys", '{"a": 1, "a": 2}')
    j.add("deep-array", "[" * 10000 + "]" * 10000)
    j.add("deep-object", '{"a":' * 5000 + "1" + "}" * 5000)
    j.add("depth-64", '{"a":' * 64 + "1" + "}" * 64)
    j.add("truncated", json.dumps(doc_to_json(SECRET))[:100])
    j.add("trailing-garbage", '{"a": 1} x')
    j.add("trailing-comma", '{"a": 1,}')
    j.add("single-quotes", "{'a': 1}")
    j.add("comments", '{"a": 1 /* c */}')
    j.add("invalid-utf8", b'{"a": "\xc3\x28"}')
    j.add("nul-byte", b'{"a": "b\x00"}')
    j.add("many-documents", '{"a": 1}\n' * 2000)
    j.add("many-keys", "{" + ", ".join('"k%d": %d' % (i, i) for i in range(2000)) + "}")
    j.add("empty-object", "{}")
    j.add("empty-array", "[]")
    j.add("nan", '{"a": NaN, "b": Infinity}')


def unseal_sealed(v):
    c = Corpus("unseal_sealed")
    docs, _ = vector_sealed_secrets(v)
    for name, text in docs.items():
        c.add(name, text)
    c.add("secret-not-sealed", SECRET)
    c.add("wrong-kind", docs["sealed-strict"].replace("kind: SealedSecret", "kind: Secret"))
    c.add("wrong-api-version", docs["sealed-strict"].replace("seal.dev/v1", "bitnami.com/v1alpha1"))
    c.add("template-not-object", docs["sealed-no-encrypted-data"].replace("spec: {}", "spec: {encryptedData: {}, template: 5}"))
    c.add("template-huge-data", docs["sealed-strict"] + "  template:\n    data:\n" +
          "".join("      K%d: '{{ .OPENAI_API_KEY }}{{ .OPENAI_API_KEY }}'\n" % i for i in range(200)))
    c.add("encrypted-key-wins", docs["sealed-strict"] + "  template:\n    data:\n      OPENAI_API_KEY: cGxhaW4=\n")
    c.add("no-uid", docs["sealed-strict"].replace("  uid: 5f0c7d4e-0000-4000-8000-000000000001\n", ""))


def seal_secret(v):
    c = Corpus("seal_secret")
    c.add("secret", SECRET)
    c.add("secret-json", json.dumps(doc_to_json(SECRET)))
    c.add("string-data-only", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {x: hello, y: ''}\n")
    c.add("data-only", "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b}\ndata: {x: aGVsbG8=, y: ''}\n")
    c.add("both-same-key", "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b}\ndata: {x: aGVsbG8=}\nstringData: {x: wins}\n")
    c.add("empty-and-empty", "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b}\n---\n"
          "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b}\n")
    c.add("scopes", "".join(
        "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s%d\n  annotations: {seal.dev/scope: %s}\nstringData: {k: v}\n"
        % (i, s) for i, s in enumerate(["strict", "namespace-wide", "cluster-wide", "bogus", ""])))
    c.add("namespace-conflict", "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: fuzz-other}\nstringData: {k: v}\n")
    c.add("no-name", "apiVersion: v1\nkind: Secret\nmetadata: {namespace: b}\nstringData: {k: v}\n")
    c.add("bad-names", "apiVersion: v1\nkind: Secret\nmetadata: {name: 'UPPER', namespace: 'a..b'}\nstringData: {'bad key': v, '..': w}\n")
    c.add("non-canonical-base64", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {x: 'aGVsbG8', y: 'aGVs\\nbG8=', z: 'aGVsbG9='}\n")
    c.add("non-string-values", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {x: 1, y: true, z: null, w: [1], v: {a: b}}\n")
    c.add("data-not-object", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: [x]\n")
    c.add("server-fields", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  uid: u\n  resourceVersion: '1'\n"
          "  generation: 3\n  creationTimestamp: '2026-01-01T00:00:00Z'\n  managedFields: []\n"
          "  ownerReferences: [{kind: X}]\n  labels: {a: b}\n  annotations: {c: d}\n"
          "type: kubernetes.io/tls\nimmutable: true\nstringData: {tls.crt: x, tls.key: y}\n")
    c.add("service-account-token", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ntype: kubernetes.io/service-account-token\nstringData: {k: v}\n")
    c.add("list", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: a}, stringData: {k: v}}\n"
          "- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}, data: {k: v}}\n")
    c.add("not-a-secret", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n")
    c.add("keys-1024", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData:\n" +
          "".join("  k%d: v\n" % i for i in range(1024)))
    c.add("keys-1025", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData:\n" +
          "".join("  k%d: v\n" % i for i in range(1025)))
    c.add("value-64k", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData:\n  k: " + "x" * 65536 + "\n")
    c.add("binary-data", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {k: AAEC/w==}\n")
    c.add("utf8-string-data", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {k: \"caf\u00e9\"}\n")
    c.add("nul-string-data", 'apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {k: "a\\0b"}\n')


KUBECONFIG = """apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: %(ca)s
- name: fuzz-cluster
  cluster:
    server: https://[::1]:8443
    insecure-skip-tls-verify: true
contexts:
- name: prod
  context: {cluster: prod, user: admin, namespace: kotaemon}
- name: fuzz
  context: {cluster: fuzz-cluster, user: token-file}
users:
- name: admin
  user:
    token: abc.def
    client-certificate-data: %(ca)s
    client-key-data: %(ca)s
- name: token-file
  user:
    tokenFile: token
"""


def kubeconfig(v):
    c = Corpus("kubeconfig")
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
    good = KUBECONFIG % {"ca": ca}
    c.add("two-contexts", good)
    c.add("json", json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "a",
                              "clusters": [{"name": "c", "cluster": {"server": "http://localhost:8080"}}],
                              "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}],
                              "users": [{"name": "u", "user": {}}]}))
    c.add("no-current-context", good.replace("current-context: prod\n", ""))
    c.add("unknown-cluster", good.replace("cluster: prod,", "cluster: nowhere,"))
    c.add("unknown-user", good.replace("user: admin,", "user: nobody,"))
    c.add("context-not-map", good.replace("context: {cluster: prod, user: admin, namespace: kotaemon}", "context: 5"))
    c.add("clusters-not-list", "apiVersion: v1\nkind: Config\nclusters: {a: b}\ncurrent-context: x\n")
    c.add("bad-base64", good.replace(ca, "!!!not base64", 1))
    c.add("relative-files", good.replace("certificate-authority-data: " + ca, "certificate-authority: ca.crt")
          .replace("client-certificate-data: " + ca, "client-certificate: ../client.crt"))
    c.add("no-server", good.replace("    server: https://127.0.0.1:6443\n", ""))
    c.add("server-not-url", good.replace("https://127.0.0.1:6443", "not a url"))
    c.add("duplicate-names", good + "- name: prod\n  user: {token: second}\n")
    c.add("anchors", "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: c\n  cluster: &c {server: 'https://x'}\n"
          "contexts:\n- {name: a, context: {cluster: c, user: u}}\n- {name: b, context: {cluster: c, user: u}}\n"
          "users:\n- name: u\n  user: *c\n")
    c.add("crlf-bom", "\ufeff" + good.replace("\n", "\r\n"))
    c.add("long-token", good.replace("abc.def", "x" * 100000))
    c.add("empty", "")
    c.add("not-yaml", "{{{{")


def watch_lines(v):
    c = Corpus("watch_lines")
    # The first byte picks the longest line: 0 8 bytes, 1 64, 2 1024, 3 8 MiB.
    obj = {"apiVersion": "seal.dev/v1", "kind": "SealedSecret",
           "metadata": {"name": "a", "namespace": "b", "resourceVersion": "12"}}
    events = [json.dumps({"type": t, "object": obj}) for t in ("ADDED", "MODIFIED", "DELETED")]
    events.append(json.dumps({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "13"}}}))
    events.append(json.dumps({"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}))
    stream = "\n".join(events) + "\n"
    c.add("events", b"\x03" + stream.encode())
    c.add("events-crlf", b"\x03" + stream.replace("\n", "\r\n").encode())
    c.add("events-max-1024", b"\x02" + stream.encode())
    c.add("events-max-64", b"\x01" + stream.encode())
    c.add("unfinished", b"\x03" + stream.encode()[:-40])
    c.add("blank-lines", b"\x03\n\n\r\n" + events[0].encode() + b"\n\n")
    c.add("exactly-8", b"\x0012345678\n123456789\n")
    c.add("exactly-8-cr", b"\x0012345678\r\n1234567\r\r\n")
    c.add("lone-cr", b"\x00\r\r\r\n\r")
    c.add("not-json", b"\x03{\"type\": \n[1,2\nnull\n\"x\"\n")
    c.add("nul-bytes", b"\x03{\"type\":\"ADDED\",\"object\":{}}\x00\n\x00\x00\n")
    c.add("long-line", b"\x02" + b"x" * 3000 + b"\n" + events[0].encode() + b"\n")
    c.add("big-event", b"\x03" + json.dumps({"type": "ADDED", "object": {"data": {"k": "x" * 70000}}}).encode() + b"\n")


def http_body(v):
    c = Corpus("http_body")
    # First byte: bit 0 rotate (else verify), bit 1 Accept text/plain.
    docs, _ = vector_sealed_secrets(v)
    for name in ("sealed-strict", "sealed-two-recipients", "sealed-namespace-wide", "sealed-template",
                 "sealed-tampered-and-good", "sealed-json", "sealed-wrong-namespace", "sealed-no-encrypted-data",
                 "sealed-multi", "sealed-service-account-token"):
        c.add("verify-" + name, b"\x00" + docs[name].encode())
        c.add("rotate-" + name, b"\x01" + docs[name].encode())
    c.add("verify-text-tampered", b"\x02" + docs["sealed-tampered-and-good"].encode())
    c.add("verify-empty", b"\x00")
    c.add("rotate-secret", b"\x01" + SECRET.encode())
    c.add("verify-not-yaml", b"\x00{{{{ [")
    c.add("verify-billion-laughs", b"\x00" + ("a: &a [x, x, x, x, x, x, x, x]\n" + "".join(
        "%s: &%s [%s]\n" % (chr(98 + i), chr(98 + i), ", ".join(["*" + chr(97 + i)] * 8)) for i in range(8))).encode())


def bitnami(v):
    c = Corpus("bitnami")
    # Each input is tried as template text, as a value and as a YAML and a JSON stream.
    c.add("template-refs", 'postgres://{{ index . "db-user" }}:{{.a}}@db/{{ .pass_word.1 }}')
    c.add("template-raw-string", "{{ index . `a` }}{{\t.a\t}}")
    c.add("template-pipeline", "{{ .a | upper }}")
    c.add("template-trim", "{{- .a -}}")
    c.add("template-edges", "{{{ .a }}}} }} {{ .a")
    c.add("template-escaped-key", '{{ index . "a\\"b" }}')
    c.add("template-unknown-key", "{{ .nope }}")
    c.add("value-min", struct.pack(">H", 4) + b"rsa!" + b"\0" * 16)
    c.add("value-truncated", struct.pack(">H", 256) + b"x" * 200)
    c.add("value-no-tag", struct.pack(">H", 1) + b"r" + b"\0" * 15)
    c.add("value-zero-rsa", b"\0\0" + b"\0" * 32)
    c.add("yaml-stream", "---\napiVersion: v1\nkind: ConfigMap\n--- # c\nkind: Secret\n---\r\n\n---")
    c.add("yaml-marker-text", "a: 1\n----\n---x\n--- !tag\n...\n---")
    c.add("json-stream", b'\xef\xbb\xbf {"a": 1}\n[1, 2] {"b": {"c": [true]}}  ')
    c.add("json-broken", '{"a": 1} {"b": ')


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else VECTORS
    with open(path) as f:
        v = json.load(f)
    armor_public(v)
    armor_private(v)
    unseal(v)
    base64_texts(v)
    documents(v)
    unseal_sealed(v)
    seal_secret(v)
    kubeconfig(v)
    watch_lines(v)
    http_body(v)
    bitnami(v)


if __name__ == "__main__":
    main()
