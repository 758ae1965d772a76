"""A test-only encoder of Bitnami sealed-secrets objects, written from the
format's description (issue 18), independent of seal: Python's cryptography
package (OpenSSL) for RSA-OAEP and AES-GCM.

A value is base64 of: uint16 big-endian length of the RSA ciphertext,
RSA-OAEP(SHA-256, label)(32-byte session key), AES-256-GCM(session key,
12 zero bytes, no additional data)(value). The label is "namespace/name"
(strict), "namespace" (namespace-wide) or empty (cluster-wide)."""

import base64
import datetime
import json
import os
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"

# A minimal CRD for Bitnami's SealedSecret: the group, the kind, any content.
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "sealedsecrets.bitnami.com"},
    "spec": {"group": "bitnami.com", "scope": "Namespaced",
             "names": {"kind": "SealedSecret", "listKind": "SealedSecretList",
                       "plural": "sealedsecrets", "singular": "sealedsecret"},
             "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {
                               "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def new_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def key_secret(name, key, state="active", namespace="kube-system"):
    """Bitnami's key Secret: kubernetes.io/tls, tls.key PKCS#1 PEM."""
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    now = datetime.datetime(2026, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    crt = cert.public_bytes(serialization.Encoding.PEM)
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {KEY_LABEL: state}},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": base64.b64encode(crt).decode(),
                     "tls.key": base64.b64encode(pem).decode()}}


def key_backup(*secrets):
    """What `kubectl get secret -l ... -o yaml` gives, as JSON: a List."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
                       "items": list(secrets)}, indent=2)


def label(scope, namespace, name):
    if scope == "cluster-wide":
        return b""
    if scope == "namespace-wide":
        return namespace.encode()
    return f"{namespace}/{name}".encode()


def encrypt_raw(key, lab, plaintext):
    session = os.urandom(32)
    rsa_ct = key.public_key().encrypt(
        session, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                              label=lab or None))
    body = AESGCM(session).encrypt(b"\0" * 12, plaintext, None)
    return struct.pack(">H", len(rsa_ct)) + rsa_ct + body


def encrypt(key, lab, plaintext):
    if isinstance(plaintext, str):
        plaintext = plaintext.encode()
    return base64.b64encode(encrypt_raw(key, lab, plaintext)).decode()


def sealed_secret(key, name, namespace, values, scope="strict", template=None,
                  annotations=None, labels=None):
    """A bitnami.com/v1alpha1 SealedSecret as kubeseal writes it."""
    meta = {"name": name, "namespace": namespace, "creationTimestamp": None}
    ann = dict(annotations or {})
    if scope == "namespace-wide":
        ann["sealedsecrets.bitnami.com/namespace-wide"] = "true"
    if scope == "cluster-wide":
        ann["sealedsecrets.bitnami.com/cluster-wide"] = "true"
    if ann:
        meta["annotations"] = ann
    if labels:
        meta["labels"] = labels
    lab = label(scope, namespace, name)
    tmpl = {"metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "type": "Opaque"}
    tmpl.update(template or {})
    return {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": meta,
            "spec": {"encryptedData": {k: encrypt(key, lab, v) for k, v in values.items()},
                     "template": tmpl}}


def old_sealed_secret(key, name, namespace, data, secret_type="Opaque"):
    """A very old object: spec.data is a whole Secret (JSON) sealed as one value."""
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": name, "namespace": namespace,
                           "labels": {"app": name}},
              "type": secret_type,
              "data": {k: base64.b64encode(v.encode() if isinstance(v, str) else v).decode()
                       for k, v in data.items()}}
    return {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"data": encrypt(key, label("strict", namespace, name),
                                     json.dumps(secret).encode())}}


def to_yaml(doc, indent=0):
    """Block YAML for maps, lists and scalars (strings double-quoted)."""
    pad = " " * indent
    lines = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{k}:")
                lines.append(to_yaml(v, indent + 2))
            else:
                lines.append(f"{pad}{k}: {scalar(v)}")
    else:
        for v in doc:
            if isinstance(v, dict) and v:
                inner = to_yaml(v, indent + 2).split("\n")
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            else:
                lines.append(f"{pad}- {scalar(v)}")
    return "\n".join(lines)


def scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return json.dumps(v)


def controller_secret(obj, uid, values):
    """What Bitnami's controller makes of its SealedSecret obj (stored with uid):
    the Secret with the plain values, the template's labels and an
    ownerReference to obj."""
    meta = obj["metadata"]
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                         "labels": (obj["spec"]["template"].get("metadata") or {}).get("labels") or {},
                         "ownerReferences": [{
                             "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
                             "name": meta["name"], "uid": uid, "controller": True,
                             "blockOwnerDeletion": True}]},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}
