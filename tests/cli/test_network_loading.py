"""seal loads libcurl only when a command talks to the network
(seal/curl_loader.c): commands that need no network work where libcurl cannot
be loaded, and one that needs it says why it cannot instead of failing
silently. A broken libcurl.so.4 first on LD_LIBRARY_PATH stands in for a
missing or damaged libcurl."""

import pytest

from conftest import fails, ok, secret_yaml


@pytest.fixture
def broken_curl(tmp_path):
    libdir = tmp_path / "lib"
    libdir.mkdir()
    (libdir / "libcurl.so.4").write_bytes(b"not a shared object\n")
    return {"LD_LIBRARY_PATH": str(libdir)}


def test_sealing_with_a_cert_file_needs_no_libcurl(keys, broken_curl):
    r = ok("--cert", keys.pub[0], stdin=secret_yaml(data={"a": "x"}), env=broken_curl)
    assert b"kind: SealedSecret" in r.out


def test_unseal_and_version_need_no_libcurl(keys, broken_curl):
    sealed = ok("--cert", keys.pub[0], stdin=secret_yaml(data={"a": "x"})).out
    r = ok("unseal", "--private-key", keys.priv[0], stdin=sealed, env=broken_curl)
    assert b"kind: Secret" in r.out
    assert ok("--version", env=broken_curl).out.startswith(b"seal ")


def test_cert_url_says_libcurl_cannot_be_loaded(broken_curl):
    r = fails(2, "cert", "--controller-url", "http://127.0.0.1:9", env=broken_curl)
    assert "cannot load libcurl.so.4" in r.err, r


def test_cluster_says_libcurl_cannot_be_loaded(tmp_path, broken_curl):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters:\n- name: k\n  cluster:\n    server: http://127.0.0.1:9\n"
        "users:\n- name: u\n  user:\n    token: t\n"
        "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n")
    r = fails(2, "cert", "--kubeconfig", str(kubeconfig), env=broken_curl)
    assert "kubernetes client: cannot load libcurl.so.4" in r.err, r
