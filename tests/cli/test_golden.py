"""Golden files: seal unseal of hand-written SealedSecrets holding the test
vectors' values prints exactly golden/vectors.unsealed.yaml."""

import base64
import json
import os

from conftest import fails, ok, parse_docs, vectors

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")


def golden(name):
    with open(os.path.join(GOLDEN, name), "rb") as f:
        return f.read()


def test_unseal_matches_golden_yaml(keys):
    r = ok("unseal", "--private-key", keys.priv[0], "--private-key", keys.priv[2],
           "-f", os.path.join(GOLDEN, "vectors.sealed.yaml"))
    assert r.out == golden("vectors.unsealed.yaml")


def test_golden_holds_the_vectors_plaintexts(keys):
    """The golden file is checked against the vectors, not only against seal."""
    v = vectors()["valid"]
    docs = parse_docs(golden("vectors.unsealed.yaml"))
    assert [d["metadata"]["name"] for d in docs] == ["api-keys", "x", "any"]
    assert docs[0]["data"]["OPENAI_API_KEY"] == v[0]["plaintext"]
    key = base64.b64decode(v[0]["plaintext"]).decode()
    assert base64.b64decode(docs[0]["data"]["ENDPOINT"]).decode() == \
        f"https://api.openai.com/v1?key={key}"
    assert "argocd.argoproj.io/tracking-id" not in json.dumps(docs[0])
    assert docs[1]["data"]["db.password"] == v[5]["plaintext"]
    assert docs[2]["data"]["token"] == v[6]["plaintext"]
    assert docs[2]["type"] == "kubernetes.io/basic-auth" and docs[2]["immutable"] is True


def test_unseal_json_output_is_the_same_documents(keys):
    r = ok("unseal", "--private-key", keys.priv[0], "--private-key", keys.priv[2], "-o", "json",
           "-f", os.path.join(GOLDEN, "vectors.sealed.yaml"))
    assert parse_docs(r.out) == parse_docs(golden("vectors.unsealed.yaml"))


def test_one_key_missing_names_the_key_ids(keys):
    r = fails(1, "unseal", "--private-key", keys.priv[0],
              "-f", os.path.join(GOLDEN, "vectors.sealed.yaml"))
    assert "document 2 (SealedSecret kotaemon/x)" in r.err
    assert keys.ids[2] in r.err
