"""The test API server over HTTPS with urllib-level clients: the semantics a controller relies on."""

import base64
import json
import os
import socket
import time

import pytest

from conftest import secret, wait_for

SEC = "/api/v1/namespaces/{}/secrets"


def raw_secret(name, data):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}


def status_ok(data, code, reason):
    assert data["kind"] == "Status" and data["apiVersion"] == "v1"
    assert data["status"] == "Failure" and data["code"] == code and data["reason"] == reason, data
    assert data["message"]


# ---- discovery ----

def test_discovery_documents(srv):
    assert srv.ok("GET", "/version")["major"] == "1"
    assert srv.ok("GET", "/api")["versions"] == ["v1"]
    groups = {g["name"] for g in srv.ok("GET", "/apis")["groups"]}
    assert {"apps", "coordination.k8s.io", "apiextensions.k8s.io", "rbac.authorization.k8s.io"} <= groups
    core = {r["name"]: r for r in srv.ok("GET", "/api/v1")["resources"]}
    assert core["secrets"]["kind"] == "Secret" and core["secrets"]["namespaced"] is True
    assert core["namespaces"]["namespaced"] is False and "watch" in core["secrets"]["verbs"]
    assert core["secrets"]["singularName"] == "secret"
    leases = srv.ok("GET", "/apis/coordination.k8s.io/v1")
    assert leases["groupVersion"] == "coordination.k8s.io/v1"
    assert [r["name"] for r in leases["resources"]] == ["leases"]


def test_openapi_v3_has_patch_with_field_validation(srv):
    index = srv.ok("GET", "/openapi/v3")["paths"]
    url = index["api/v1"]["serverRelativeURL"]
    doc = srv.ok("GET", url)
    kinds = set()
    for ops in doc["paths"].values():
        p = ops.get("patch")
        if p and any(x["name"] == "fieldValidation" for x in p["parameters"]):
            kinds.add(p["x-kubernetes-group-version-kind"]["kind"])
    assert {"Secret", "Namespace"} <= kinds


# ---- auth ----

def test_token_required(srv):
    code, _h, data = srv.get("/api/v1/namespaces/default/secrets", token="")
    assert code == 401
    status_ok(data, 401, "Unauthorized")
    code, _h, _d = srv.get("/api/v1/namespaces/default/secrets", token="wrong")
    assert code == 401
    code, _h, _d = srv.get("/_test/stats", token="")
    assert code == 200


def test_token_change(fresh):
    s = fresh()
    assert s.get("/api/v1/namespaces", token="old-one")[0] == 401
    assert s.get("/api/v1/namespaces")[0] == 200
    s.ok("POST", "/_test/token", {"token": "rotated"}, token="")
    assert s.get("/api/v1/namespaces")[0] == 401
    assert s.get("/api/v1/namespaces", token="rotated")[0] == 200


# ---- create, get, update, patch, delete ----

def test_create_get_and_already_exists(srv, ns):
    created = srv.ok("POST", SEC.format(ns), secret("a", {"k": "v"}))
    meta = created["metadata"]
    assert meta["namespace"] == ns and meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0 and created["type"] == "Opaque"
    got = srv.ok("GET", SEC.format(ns) + "/a")
    assert got == created
    code, _h, data = srv.post(SEC.format(ns), secret("a"))
    assert code == 409
    status_ok(data, 409, "AlreadyExists")
    assert data["details"]["name"] == "a" and data["details"]["kind"] == "secrets"
    code, _h, data = srv.get(SEC.format(ns) + "/nope")
    assert code == 404
    status_ok(data, 404, "NotFound")
    assert data["message"] == 'secrets "nope" not found'


def test_resource_version_is_monotonic_across_kinds(srv, ns):
    a = srv.ok("POST", SEC.format(ns), secret("rv1"))
    b = srv.ok("POST", f"/api/v1/namespaces/{ns}/configmaps",
               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "y"}})
    c = srv.ok("PATCH", SEC.format(ns) + "/rv1", {"metadata": {"labels": {"l": "1"}}},
               ctype="application/merge-patch+json")
    rvs = [int(o["metadata"]["resourceVersion"]) for o in (a, b, c)]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3
    lst = srv.ok("GET", SEC.format(ns))
    assert lst["kind"] == "SecretList" and int(lst["metadata"]["resourceVersion"]) >= rvs[-1]


def test_generate_name(srv, ns):
    obj = secret("")
    obj["metadata"] = {"generateName": "gen-"}
    a = srv.ok("POST", SEC.format(ns), obj)
    b = srv.ok("POST", SEC.format(ns), obj)
    assert a["metadata"]["name"].startswith("gen-") and len(a["metadata"]["name"]) == 9
    assert a["metadata"]["name"] != b["metadata"]["name"]


def test_generate_name_collisions_are_retried():
    """Kubernetes 1.32 (RetryGenerateName) tries 8 generated names before 409; in process,
    with the random generator seeded so the first names are known and taken."""
    import random
    import types
    import server
    store = server.Store(1000)
    api = server.Api(types.SimpleNamespace(store=store))
    api.create(store.lookup("", "v1", "namespaces"), None, {"metadata": {"name": "default"}})
    secrets = store.lookup("", "v1", "secrets")
    random.seed(7)
    taken = [server.generate_name("gen-") for _ in range(8)]
    for name in taken[:7]:
        api.create(secrets, "default", {"metadata": {"name": name}})
    random.seed(7)
    api.create(secrets, "default", {"metadata": {"generateName": "gen-"}})
    assert store.get(secrets, "default", taken[7]) is not None
    random.seed(7)
    with pytest.raises(server.ApiError) as e:
        api.create(secrets, "default", {"metadata": {"generateName": "gen-"}})
    assert e.value.code == 409 and e.value.reason == "AlreadyExists"


def test_stale_update_conflicts(srv, ns):
    first = srv.ok("POST", SEC.format(ns), secret("u", {"k": "1"}))
    first_rv = first["metadata"]["resourceVersion"]
    second = dict(first, data={"k": base64.b64encode(b"2").decode()})
    updated = srv.ok("PUT", SEC.format(ns) + "/u", second)
    assert updated["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]
    stale = dict(first, data={"k": base64.b64encode(b"3").decode()}, metadata=dict(first["metadata"]))
    code, _h, data = srv.put(SEC.format(ns) + "/u", stale)
    assert code == 409
    status_ok(data, 409, "Conflict")
    assert "the object has been modified" in data["message"]
    # without a resourceVersion the update is unconditional
    del stale["metadata"]["resourceVersion"]
    forced = srv.ok("PUT", SEC.format(ns) + "/u", stale)
    assert base64.b64decode(forced["data"]["k"]) == b"3"
    # a merge patch naming a stale resourceVersion conflicts too
    code, _h, data = srv.patch(SEC.format(ns) + "/u",
                               {"metadata": {"resourceVersion": first_rv}})
    assert code == 409
    # PUT of a missing object is 404, never a create
    code, _h, _d = srv.put(SEC.format(ns) + "/missing", secret("missing"))
    assert code == 404


def test_noop_update_keeps_resource_version(srv, ns):
    first = srv.ok("POST", SEC.format(ns), secret("same", {"k": "v"}))
    again = srv.ok("PUT", SEC.format(ns) + "/same", first)
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_patch_kinds(srv, ns):
    srv.ok("POST", SEC.format(ns), secret("p", {"a": "1", "b": "2"}))
    url = SEC.format(ns) + "/p"
    merged = srv.ok("PATCH", url, {"data": {"a": None, "c": "Mw=="}, "metadata": {"labels": {"x": "y"}}},
                    ctype="application/merge-patch+json")
    assert set(merged["data"]) == {"b", "c"} and merged["metadata"]["labels"] == {"x": "y"}
    smp = srv.ok("PATCH", url, {"metadata": {"annotations": {"n": "1"}}, "$setElementOrder/x": []},
                 ctype="application/strategic-merge-patch+json")
    assert smp["metadata"]["annotations"] == {"n": "1"} and "$setElementOrder/x" not in smp
    ops = [{"op": "test", "path": "/data/b", "value": "Mg=="},
           {"op": "add", "path": "/data/d", "value": "NA=="},
           {"op": "copy", "from": "/data/d", "path": "/data/e"},
           {"op": "move", "from": "/data/c", "path": "/data/f"},
           {"op": "replace", "path": "/metadata/labels/x", "value": "z"},
           {"op": "remove", "path": "/data/b"},
           {"op": "add", "path": "/metadata/labels/a~1b", "value": "slash"}]
    jp = srv.ok("PATCH", url, ops, ctype="application/json-patch+json")
    assert jp["data"] == {"d": "NA==", "e": "NA==", "f": "Mw=="}
    assert jp["metadata"]["labels"] == {"x": "z", "a/b": "slash"}
    # a failing test op changes nothing
    code, _h, data = srv.patch(url, [{"op": "test", "path": "/data/d", "value": "no"},
                                     {"op": "remove", "path": "/data/d"}], ctype="application/json-patch+json")
    assert code == 422 and data["kind"] == "Status"
    assert srv.ok("GET", url)["data"] == jp["data"]
    code, _h, data = srv.patch(url, [{"op": "remove", "path": "/data/nothere"}],
                               ctype="application/json-patch+json")
    assert code == 422
    code, _h, data = srv.patch(url, [{"op": "explode", "path": "/data"}], ctype="application/json-patch+json")
    assert code == 400
    code, _h, data = srv.patch(url, {"data": {}}, ctype="text/plain")
    assert code == 415
    code, _h, _d = srv.patch(SEC.format(ns) + "/none", {"data": {}})
    assert code == 404


def test_delete_returns_status_and_is_gone(srv, ns):
    made = srv.ok("POST", SEC.format(ns), secret("d"))
    code, _h, data = srv.delete(SEC.format(ns) + "/d")
    assert code == 200 and data["status"] == "Success"
    assert data["details"]["uid"] == made["metadata"]["uid"]
    assert srv.get(SEC.format(ns) + "/d")[0] == 404
    assert srv.delete(SEC.format(ns) + "/d")[0] == 404


def test_dry_run_changes_nothing(srv, ns):
    url = SEC.format(ns)
    out = srv.ok("POST", url + "?dryRun=All", secret("dry", {"k": "v"}))
    assert out["metadata"]["name"] == "dry"
    assert srv.get(url + "/dry")[0] == 404
    real = srv.ok("POST", url, secret("dry2", {"k": "v"}))
    srv.ok("PATCH", url + "/dry2?dryRun=All", {"data": {"k": "eA=="}}, ctype="application/merge-patch+json")
    srv.ok("PUT", url + "/dry2?dryRun=All", dict(real, data={}))
    assert srv.ok("GET", url + "/dry2") == real


# ---- validation ----

@pytest.mark.parametrize("body, field", [
    (secret("Bad_Name"), "metadata.name"),
    (secret("x" * 254), "metadata.name"),
    (raw_secret("ok", {"k": "not base64!"}), "data[k]"),
    (raw_secret("ok", {"bad key": "YQ=="}), "data[bad key]"),
    (raw_secret("ok", {"k": 5}), "data[k]"),
    (raw_secret("ok", {"k": base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()}), "data"),
    ({"apiVersion": "v1", "kind": "Secret", "metadata": {}}, "metadata.name"),
    (secret("ok", labels={"a": 1}), "metadata.labels"),
    (secret("ok", labels={"a": "has space"}), "metadata.labels"),
    (secret("ok", labels={"a": "x" * 64}), "metadata.labels"),
    (secret("ok", labels={"Bad_Prefix/a": "b"}), "metadata.labels"),
    (secret("ok", labels={"-a": "b"}), "metadata.labels"),
])
def test_invalid_objects_are_422(srv, ns, body, field):
    code, _h, data = srv.post(SEC.format(ns), body)
    assert code == 422, data
    status_ok(data, 422, "Invalid")
    assert any(c["field"] == field for c in data["details"]["causes"]), data


def test_bad_requests(srv, ns):
    url = SEC.format(ns)
    code, _h, data = srv.post(url, b"{not json")
    assert code == 400
    status_ok(data, 400, "BadRequest")
    code, _h, data = srv.post(url, b'["a list"]')
    assert code == 400
    code, _h, data = srv.post(url, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert code == 400 and "kind" in data["message"]
    code, _h, data = srv.post(url, dict(secret("x"), metadata={"name": "x", "namespace": "other"}))
    assert code == 400
    code, _h, data = srv.get(url + "?labelSelector=a%20in%20(b")
    assert code == 400
    code, _h, data = srv.get(url + "?fieldSelector=spec.nothing%3Dx")
    assert code == 400
    code, _h, data = srv.get("/api/v1/namespaces/default/nothings")
    assert code == 404
    status_ok(data, 404, "NotFound")
    code, _h, data = srv.get("/no/such/path")
    assert code == 404 and data["kind"] == "Status"


def test_namespace_must_exist(srv):
    code, _h, data = srv.post(SEC.format("no-such-ns"), secret("x"))
    assert code == 404
    assert data["message"] == 'namespaces "no-such-ns" not found'


def test_oversized_body_is_413(srv, ns):
    big = b'{"x":"' + b"a" * (3 * 1024 * 1024 + 10) + b'"}'
    code, _h, data = srv.post(SEC.format(ns), big)
    assert code == 413
    # the server still answers afterwards
    assert srv.get("/version")[0] == 200


def test_string_data_merged_into_data(srv, ns):
    obj = secret("sd", {"a": "1"})
    obj["stringData"] = {"b": "two", "a": "over"}
    out = srv.ok("POST", SEC.format(ns), obj)
    assert "stringData" not in out
    assert {k: base64.b64decode(v).decode() for k, v in out["data"].items()} == {"a": "over", "b": "two"}


def test_immutable_secret(srv, ns):
    url = SEC.format(ns)
    made = srv.ok("POST", url, secret("imm", {"k": "v"}, immutable=True))
    code, _h, data = srv.patch(url + "/imm", {"data": {"k": "eA=="}})
    assert code == 422
    status_ok(data, 422, "Invalid")
    assert "immutable" in data["message"]
    code, _h, data = srv.patch(url + "/imm", {"immutable": False})
    assert code == 422
    # metadata may still change, and deletion works
    srv.ok("PATCH", url + "/imm", {"metadata": {"labels": {"a": "b"}}}, ctype="application/merge-patch+json")
    assert srv.ok("GET", url + "/imm")["data"] == made["data"]
    srv.ok("DELETE", url + "/imm")


def test_secret_has_no_generation(srv, ns):
    # as kube-apiserver: only kinds with a spec (Deployments, custom resources...) have one
    url = SEC.format(ns)
    made = srv.ok("POST", url, secret("g", {"k": "v"}))
    assert "generation" not in made["metadata"]
    out = srv.ok("PATCH", url + "/g", {"data": {"k": "eA=="}}, ctype="application/merge-patch+json")
    assert "generation" not in out["metadata"]


# ---- lists: selectors and paging ----

def test_label_and_field_selectors(srv, ns):
    url = SEC.format(ns)
    for name, labels in [("l1", {"app": "a", "tier": "x"}), ("l2", {"app": "b"}), ("l3", {"tier": "y"})]:
        srv.ok("POST", url, secret(name, labels=labels))

    def names(q):
        return sorted(o["metadata"]["name"] for o in srv.ok("GET", url + "?" + q)["items"])
    assert names("labelSelector=app%3Da") == ["l1"]
    assert names("labelSelector=app%3D%3Db") == ["l2"]
    assert names("labelSelector=app!%3Da") == ["l2", "l3"]
    assert names("labelSelector=app%20in%20(a,b)") == ["l1", "l2"]
    assert names("labelSelector=app%20notin%20(a)") == ["l2", "l3"]
    assert names("labelSelector=tier") == ["l1", "l3"]
    assert names("labelSelector=!tier") == ["l2"]
    assert names("labelSelector=app,tier%3Dx") == ["l1"]
    assert names("fieldSelector=metadata.name%3Dl2") == ["l2"]
    assert names("fieldSelector=metadata.name!%3Dl2") == ["l1", "l3"]
    everywhere = srv.ok("GET", "/api/v1/secrets?fieldSelector=metadata.namespace%3D" + ns)
    assert sorted(o["metadata"]["name"] for o in everywhere["items"]) == ["l1", "l2", "l3"]


def test_paging_with_continue(srv, ns):
    url = SEC.format(ns)
    for i in range(23):
        srv.ok("POST", url, secret(f"page-{i:02d}"))
    seen, cont, pages = [], "", 0
    while True:
        lst = srv.ok("GET", url + "?limit=5" + (f"&continue={cont}" if cont else ""))
        pages += 1
        assert len(lst["items"]) <= 5
        seen += [o["metadata"]["name"] for o in lst["items"]]
        cont = lst["metadata"].get("continue")
        if not cont:
            assert "remainingItemCount" not in lst["metadata"]
            break
        assert lst["metadata"]["remainingItemCount"] == 23 - len(seen)
    assert pages == 5 and seen == [f"page-{i:02d}" for i in range(23)]
    code, _h, data = srv.get(url + "?limit=5&continue=%25%25garbage")
    assert code == 400


def test_list_across_namespaces(srv):
    srv.ok("POST", SEC.format("team-a"), secret("across"))
    srv.ok("POST", SEC.format("team-b"), secret("across"))
    lst = srv.ok("GET", "/api/v1/secrets?labelSelector=&fieldSelector=metadata.name%3Dacross")
    assert sorted(o["metadata"]["namespace"] for o in lst["items"]) == ["team-a", "team-b"]


# ---- watch ----

class Watch:
    """A watch stream read line by line (http.client undoes the chunking)."""

    def __init__(self, srv, path, timeout=15):
        self.conn = srv.conn(timeout=timeout)
        self.conn.request("GET", path, headers={"Authorization": "Bearer " + srv.token})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        assert self.resp.getheader("Transfer-Encoding") == "chunked"

    def next(self):
        line = self.resp.readline()
        if not line:
            return None
        return json.loads(line)

    def until(self, pred, limit=200):
        for _ in range(limit):
            ev = self.next()
            assert ev is not None, "stream ended"
            if pred(ev):
                return ev
        raise AssertionError("event not seen")

    def close(self):
        self.conn.close()


def test_watch_events_and_bookmarks(srv, ns):
    url = SEC.format(ns)
    srv.ok("POST", url, secret("w0"))
    w = Watch(srv, url + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=20")
    try:
        first = w.next()
        assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "w0"
        made = srv.ok("POST", url, secret("w1"))
        ev = w.until(lambda e: e["type"] != "BOOKMARK")
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "w1"
        srv.ok("PATCH", url + "/w1", {"metadata": {"labels": {"a": "b"}}}, ctype="application/merge-patch+json")
        ev = w.until(lambda e: e["type"] != "BOOKMARK")
        assert ev["type"] == "MODIFIED" and ev["object"]["metadata"]["labels"] == {"a": "b"}
        srv.ok("DELETE", url + "/w1")
        ev = w.until(lambda e: e["type"] != "BOOKMARK")
        assert ev["type"] == "DELETED" and ev["object"]["metadata"]["uid"] == made["metadata"]["uid"]
        assert int(ev["object"]["metadata"]["resourceVersion"]) > int(made["metadata"]["resourceVersion"])
        bm = w.until(lambda e: e["type"] == "BOOKMARK")
        assert set(bm["object"]) == {"kind", "apiVersion", "metadata"}
        assert bm["object"]["kind"] == "Secret"
        assert int(bm["object"]["metadata"]["resourceVersion"]) >= int(ev["object"]["metadata"]["resourceVersion"])
    finally:
        w.close()


def test_watch_resumes_from_resource_version(srv, ns):
    url = SEC.format(ns)
    a = srv.ok("POST", url, secret("r1"))
    srv.ok("POST", url, secret("r2"))
    srv.ok("DELETE", url + "/r1")
    w = Watch(srv, url + "?watch=true&resourceVersion=" + a["metadata"]["resourceVersion"] + "&timeoutSeconds=5")
    try:
        evs = [w.next(), w.next()]
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == [("ADDED", "r2"), ("DELETED", "r1")]
    finally:
        w.close()


def test_watch_label_selector_transitions(srv, ns):
    url = SEC.format(ns)
    srv.ok("POST", url, secret("sel", labels={"app": "no"}))
    w = Watch(srv, url + "?watch=1&labelSelector=app%3Dyes&timeoutSeconds=10&resourceVersion=0")
    try:
        srv.ok("PATCH", url + "/sel", {"metadata": {"labels": {"app": "yes"}}}, ctype="application/merge-patch+json")
        assert w.next()["type"] == "ADDED"
        srv.ok("PATCH", url + "/sel", {"metadata": {"labels": {"app": "no"}}}, ctype="application/merge-patch+json")
        assert w.next()["type"] == "DELETED"
    finally:
        w.close()


def test_watch_timeout_ends_stream(srv, ns):
    w = Watch(srv, SEC.format(ns) + "?watch=1&timeoutSeconds=1")
    try:
        t0 = time.monotonic()
        assert w.next() is None
        assert time.monotonic() - t0 < 5
    finally:
        w.close()


def test_watch_after_compaction_is_410_error_event(fresh):
    s = fresh("--compact-after", "5")
    url = SEC.format("default")
    first = s.ok("POST", url, secret("c0"))
    for i in range(1, 8):
        s.ok("POST", url, secret(f"c{i}"))
    w = Watch(s, url + "?watch=1&resourceVersion=" + first["metadata"]["resourceVersion"])
    try:
        ev = w.next()
        assert ev["type"] == "ERROR"
        assert ev["object"]["code"] == 410 and ev["object"]["reason"] in ("Expired", "Gone")
        assert w.next() is None
    finally:
        w.close()
    # a recent rv is still fine
    lst = s.ok("GET", url)
    w = Watch(s, url + "?watch=1&timeoutSeconds=1&resourceVersion=" + lst["metadata"]["resourceVersion"])
    assert w.next() is None
    w.close()


def test_compact_endpoint_and_continue_410(fresh):
    s = fresh()
    url = SEC.format("default")
    for i in range(4):
        s.ok("POST", url, secret(f"k{i}"))
    lst = s.ok("GET", url + "?limit=2")
    s.ok("POST", url, secret("after-list"))
    rv = s.ok("POST", "/_test/compact", {}, token="")["resourceVersion"]
    assert int(rv) > int(lst["metadata"]["resourceVersion"])
    code, _h, data = s.get(url + "?limit=2&continue=" + lst["metadata"]["continue"])
    assert code == 410
    status_ok(data, 410, "Expired")
    w = Watch(s, url + "?watch=1&resourceVersion=" + str(int(rv) - 1))
    assert w.next()["object"]["code"] == 410
    w.close()


# ---- generation and status ----

def crd_body():
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.dev"},
            "spec": {"group": "example.dev", "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                               "shortNames": ["wd"]},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {"type": "object"}}}]}}


@pytest.fixture(scope="module")
def widgets(srv):
    srv.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd_body())
    res = srv.ok("GET", "/apis/example.dev/v1")["resources"]
    names = {r["name"] for r in res}
    assert names == {"widgets", "widgets/status"}
    return "/apis/example.dev/v1/namespaces/{}/widgets"


def test_crd_serves_its_resource(srv, ns, widgets):
    groups = {g["name"] for g in srv.ok("GET", "/apis")["groups"]}
    assert "example.dev" in groups
    w = srv.ok("POST", widgets.format(ns), {"apiVersion": "example.dev/v1", "kind": "Widget",
                                            "metadata": {"name": "w"}, "spec": {"size": 1}})
    assert w["metadata"]["generation"] == 1
    lst = srv.ok("GET", "/apis/example.dev/v1/widgets")
    assert lst["kind"] == "WidgetList" and lst["apiVersion"] == "example.dev/v1"
    code, _h, data = srv.get(widgets.format(ns) + "/missing")
    assert code == 404 and data["message"] == 'widgets.example.dev "missing" not found'


def test_generation_bumps_on_spec_change_only(srv, ns, widgets):
    url = widgets.format(ns)
    srv.ok("POST", url, {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "g"},
                         "spec": {"size": 1}})
    meta = srv.ok("PATCH", url + "/g", {"metadata": {"labels": {"a": "b"}}},
                  ctype="application/merge-patch+json")
    assert meta["metadata"]["generation"] == 1
    spec = srv.ok("PATCH", url + "/g", {"spec": {"size": 2}}, ctype="application/merge-patch+json")
    assert spec["metadata"]["generation"] == 2
    st = srv.ok("PUT", url + "/g/status", dict(spec, status={"observedGeneration": 2}))
    assert st["metadata"]["generation"] == 2 and st["status"] == {"observedGeneration": 2}


def test_status_subresource_separation(srv, ns, widgets):
    url = widgets.format(ns)
    made = srv.ok("POST", url, {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "s"},
                                "spec": {"size": 1}, "status": {"ignored": True}})
    assert "status" not in made
    # status via the status subresource: spec and labels changes there are ignored
    st = srv.ok("PUT", url + "/s/status", dict(made, spec={"size": 9}, status={"ready": True},
                                                 metadata=dict(made["metadata"], labels={"x": "y"})))
    assert st["status"] == {"ready": True} and st["spec"] == {"size": 1} and "labels" not in st["metadata"]
    # the main resource ignores status changes
    main = srv.ok("PATCH", url + "/s", {"spec": {"size": 3}, "status": {"ready": False}},
                  ctype="application/merge-patch+json")
    assert main["status"] == {"ready": True} and main["spec"] == {"size": 3}
    patched = srv.ok("PATCH", url + "/s/status", {"status": {"ready": False}},
                     ctype="application/merge-patch+json")
    assert patched["status"] == {"ready": False}
    # a stale status update conflicts
    code, _h, _d = srv.put(url + "/s/status", dict(st, status={"ready": True}))
    assert code == 409
    # secrets have no status subresource
    code, _h, _d = srv.get(SEC.format(ns) + "/x/status")
    assert code == 404


# ---- garbage collection ----

def test_owner_references_garbage_collected(srv, ns, widgets):
    owner = srv.ok("POST", widgets.format(ns), {"apiVersion": "example.dev/v1", "kind": "Widget",
                                                "metadata": {"name": "owner"}, "spec": {}})
    ref = {"apiVersion": "example.dev/v1", "kind": "Widget", "name": "owner",
           "uid": owner["metadata"]["uid"], "controller": True}
    child = secret("child")
    child["metadata"]["ownerReferences"] = [ref]
    srv.ok("POST", SEC.format(ns), child)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "grandchild"}}
    sec = srv.ok("GET", SEC.format(ns) + "/child")
    cm["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Secret", "name": "child",
                                          "uid": sec["metadata"]["uid"]}]
    srv.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", cm)
    srv.ok("POST", SEC.format(ns), secret("unrelated"))
    srv.ok("DELETE", widgets.format(ns) + "/owner")
    wait_for(lambda: srv.get(SEC.format(ns) + "/child")[0] == 404, what="child deleted")
    wait_for(lambda: srv.get(f"/api/v1/namespaces/{ns}/configmaps/grandchild")[0] == 404,
             what="grandchild deleted")
    assert srv.get(SEC.format(ns) + "/unrelated")[0] == 200


def test_orphan_propagation_keeps_dependents(srv, ns):
    owner = srv.ok("POST", SEC.format(ns), secret("orph-owner"))
    dep = secret("orph-dep")
    dep["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Secret", "name": "orph-owner",
                                           "uid": owner["metadata"]["uid"]}]
    srv.ok("POST", SEC.format(ns), dep)
    srv.ok("DELETE", SEC.format(ns) + "/orph-owner?propagationPolicy=Orphan")
    time.sleep(0.3)
    assert srv.get(SEC.format(ns) + "/orph-dep")[0] == 200


# ---- service proxy ----

def test_service_proxy(srv, ns):
    import http.server
    import threading

    class Up(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(n)
            out = json.dumps({"path": self.path, "body": body.decode(),
                              "ctype": self.headers.get("Content-Type")}).encode()
            self.send_response(409)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"pong")

        def log_message(self, *a):
            pass

    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Up)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    try:
        base = f"/api/v1/namespaces/{ns}"
        srv.ok("POST", base + "/services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ctl"},
                                            "spec": {"ports": [{"name": "http", "port": 8080}]}})
        code, _h, data = srv.get(base + "/services/ctl:http/proxy/ping")
        assert code == 503 and data["reason"] == "ServiceUnavailable"
        srv.ok("POST", base + "/endpoints", {
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ctl"},
            "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                         "ports": [{"name": "metrics", "port": 1}, {"name": "http", "port": up.server_address[1]}]}]})
        code, h, data = srv.get(base + "/services/http:ctl:http/proxy/ping", raw=True)
        assert (code, data, h["content-type"]) == (200, b"pong", "text/plain")
        code, _h, data = srv.post(base + "/services/ctl:http/proxy/v1/verify?x=1", b"kind: SealedSecret",
                                  ctype="application/yaml")
        assert code == 409
        assert data == {"path": "/v1/verify?x=1", "body": "kind: SealedSecret", "ctype": "application/yaml"}
        stats = srv.ok("GET", "/_test/stats", token="")["counts"]
        assert stats.get("create services/proxy", 0) >= 1
    finally:
        up.shutdown()
        up.server_close()


# ---- fault injection and stats ----

def test_fault_500_then_success(fresh):
    s = fresh()
    url = SEC.format("default")
    rule = s.ok("POST", "/_test/faults", {"method": "GET", "path": "/secrets$", "count": 2, "status": 500},
                token="")
    assert isinstance(rule["id"], int)
    assert s.get(url)[0] == 500
    code, _h, data = s.get(url)
    assert code == 500 and data["reason"] == "InternalError"
    assert s.get(url)[0] == 200
    # a rule for another method or path does not fire
    s.ok("POST", "/_test/faults", {"method": "POST", "path": "/secrets", "count": 1, "status": 503}, token="")
    assert s.get(url)[0] == 200
    assert s.post(url, secret("f"))[0] == 503
    assert s.post(url, secret("f"))[0] == 201


def test_fault_429_retry_after_and_clear(fresh):
    s = fresh()
    s.ok("POST", "/_test/faults", {"method": "*", "path": "configmaps", "count": 5, "status": 429,
                                   "retry_after": 2}, token="")
    code, h, data = s.get("/api/v1/namespaces/default/configmaps")
    assert code == 429 and h["retry-after"] == "2" and data["reason"] == "TooManyRequests"
    s.ok("DELETE", "/_test/faults", token="")
    assert s.get("/api/v1/namespaces/default/configmaps")[0] == 200


def test_fault_delay_and_duration(fresh):
    s = fresh()
    s.ok("POST", "/_test/faults", {"method": "GET", "path": "/version", "count": 1, "status": 0, "delay": 0.7},
         token="")
    t0 = time.monotonic()
    assert s.get("/version")[0] == 200
    assert time.monotonic() - t0 >= 0.6
    t0 = time.monotonic()
    s.get("/version")
    assert time.monotonic() - t0 < 0.5
    s.ok("POST", "/_test/faults", {"method": "GET", "path": "/version", "status": 503, "duration": 0.5},
         token="")
    assert s.get("/version")[0] == 503
    assert s.get("/version")[0] == 503
    time.sleep(0.6)
    assert s.get("/version")[0] == 200
    code, _h, _d = s.post("/_test/faults", {"path": "(", "status": 500}, token="")
    assert code == 400


def test_watch_cut(fresh):
    s = fresh()
    url = SEC.format("default")
    w = Watch(s, url + "?watch=1&allowWatchBookmarks=true")
    try:
        s.ok("POST", url, secret("before-cut"))
        assert w.next()["type"] == "ADDED"
        assert s.ok("POST", "/_test/watches/cut", {}, token="") == {"cut": 1}
        with pytest.raises((ValueError, OSError, Exception)):
            for _ in range(5):
                ev = w.next()     # half a line, then the connection ends abruptly
                if ev is None:
                    raise ValueError("ended")
    finally:
        w.close()
    assert s.ok("POST", "/_test/watches/cut", {}, token="") == {"cut": 0}
    assert s.get(url)[0] == 200


def test_stats_counters(fresh):
    s = fresh()
    s.ok("POST", "/_test/stats/reset", {}, token="")
    url = SEC.format("default")
    s.ok("POST", url, secret("st"))
    s.ok("GET", url + "/st")
    s.ok("GET", url)
    s.ok("GET", "/api/v1/secrets")
    s.ok("PATCH", url + "/st", {"metadata": {"labels": {"a": "b"}}}, ctype="application/merge-patch+json")
    made = s.ok("GET", url + "/st")
    s.ok("PUT", url + "/st", made)
    s.ok("DELETE", url + "/st")
    Watch(s, url + "?watch=1&timeoutSeconds=1").close()
    stats = wait_for(lambda: (lambda d: d if d["counts"].get("watch secrets") else None)(
        s.ok("GET", "/_test/stats", token="")), what="watch counted")
    assert stats["counts"] == {"create secrets": 1, "get secrets": 2, "list secrets": 2, "patch secrets": 1,
                               "update secrets": 1, "delete secrets": 1, "watch secrets": 1}
    assert stats["total"] == 9
    s.ok("POST", "/_test/stats/reset", {}, token="")
    assert s.ok("GET", "/_test/stats", token="") == {"counts": {}, "total": 0}


# ---- robustness ----

def test_client_disconnects_do_not_hurt(srv):
    for _ in range(5):
        sock = socket.create_connection(("127.0.0.1", srv.port))
        sock.sendall(b"GET /api HTTP/1.1\r\nHost: x\r\n")   # TLS expected: garbage, then gone
        sock.close()
    for _ in range(3):
        c = srv.conn()
        c.putrequest("POST", "/api/v1/namespaces/default/secrets")
        c.putheader("Authorization", "Bearer " + srv.token)
        c.putheader("Content-Length", "1000")
        c.endheaders()
        c.send(b'{"kind":')
        c.close()
    assert srv.get("/version")[0] == 200


def test_state_dir_restart(tmp_path):
    from conftest import Running
    s = Running(str(tmp_path))
    try:
        s.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd_body())
        made = s.ok("POST", SEC.format("default"), secret("kept", {"k": "v"}))
        s.ok("POST", "/apis/example.dev/v1/namespaces/default/widgets",
             {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "kw"}, "spec": {}})
        s.restart()  # SIGTERM, then the same --state-dir (and port)
        assert s.ok("GET", SEC.format("default") + "/kept") == made
        assert s.ok("GET", "/apis/example.dev/v1/namespaces/default/widgets/kw")["metadata"]["name"] == "kw"
        after = s.ok("POST", SEC.format("default"), secret("new"))
        assert int(after["metadata"]["resourceVersion"]) > int(made["metadata"]["resourceVersion"])
    finally:
        s.stop()
    # a new server in the same folder (apiserver.StandIn) starts empty, with the CA kept
    s = Running(str(tmp_path))
    try:
        assert s.get(SEC.format("default") + "/kept")[0] == 404
        assert s.get("/apis/example.dev/v1/namespaces/default/widgets/kw")[0] == 404
    finally:
        s.stop()


def test_stand_in_without_state_folder(tmp_path):
    """apiserver.StandIn(state=False), as the benchmarks start it: HTTPS still works
    (the CA from the kubeconfig), and a restart starts empty."""
    from apiserver import StandIn
    s = StandIn(str(tmp_path), state=False, namespaces=["team-x"])
    try:
        assert s.state is None and os.path.exists(s.ca)
        assert s.ok("POST", SEC.format("team-x"), secret("gone"))["metadata"]["name"] == "gone"
        s.restart()
        assert s.request("GET", SEC.format("team-x") + "/gone")[0] == 404
        assert s.request("GET", "/api/v1/namespaces/team-x")[0] == 200
    finally:
        s.stop()
    assert not os.path.exists(os.path.join(str(tmp_path), "state"))


# ---- other bodies, kinds and lifecycles ----

def test_protobuf_and_unknown_bodies(srv, ns):
    url = SEC.format(ns)
    pb = "application/vnd.kubernetes.protobuf"
    for body in (b"", b"k8s\x00", b"k8s\x00\x0a\x05\x0a\x02v1", b"k8s\x00\x12\xff\xff\xff\xff\x0f",
                 b"k8s\x00\x0f", b"not protobuf at all", b"k8s\x00\x0a\x0e\x0a\x02v1\x12\x06Secret\x12\x03\x0a\x80\x01"):
        code, _h, data = srv.post(url, body, ctype=pb)
        assert code == 400, (body, code, data)
        status_ok(data, 400, "BadRequest")
    # a well-formed envelope for a kind without a decoder
    tm = b"\x0a\x07apps/v1\x12\x0aDeployment"
    envelope = b"k8s\x00\x0a" + bytes([len(tm)]) + tm + b"\x12\x00"
    code, _h, data = srv.post(url, envelope, ctype=pb)
    assert code == 415 and data["reason"] == "UnsupportedMediaType"
    code, _h, data = srv.post(url, b"name=x", ctype="application/x-www-form-urlencoded")
    assert code == 415
    # a Secret in protobuf: metadata{name "pb"}, data{"k": b"\x00\xff"}
    meta = b"\x0a\x02pb"
    entry = b"\x0a\x01k\x12\x02\x00\xff"
    raw = b"\x0a" + bytes([len(meta)]) + meta + b"\x12" + bytes([len(entry)]) + entry
    typ = b"\x0a\x02v1\x12\x06Secret"
    body = b"k8s\x00\x0a" + bytes([len(typ)]) + typ + b"\x12" + bytes([len(raw)]) + raw
    made = srv.ok("POST", url, body, ctype=pb)
    assert made["metadata"]["name"] == "pb" and base64.b64decode(made["data"]["k"]) == b"\x00\xff"


def test_table_answers(srv, ns):
    srv.ok("POST", SEC.format(ns), secret("t1", {"a": "1", "b": "2"}))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    tab = srv.ok("GET", SEC.format(ns), headers={"Accept": accept})
    assert tab["kind"] == "Table" and tab["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in tab["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    assert tab["rows"][0]["cells"][:3] == ["t1", "Opaque", 2]
    assert tab["rows"][0]["object"]["metadata"]["name"] == "t1"
    plain = srv.ok("GET", SEC.format(ns), headers={"Accept": "application/json"})
    assert plain["kind"] == "SecretList"


def test_finalizers_delay_deletion(srv, ns):
    url = SEC.format(ns)
    obj = secret("fin")
    obj["metadata"]["finalizers"] = ["example.dev/hold"]
    srv.ok("POST", url, obj)
    code, _h, data = srv.delete(url + "/fin")
    assert code == 200 and data["metadata"]["deletionTimestamp"]
    assert srv.ok("GET", url + "/fin")["metadata"]["deletionTimestamp"]
    srv.ok("PATCH", url + "/fin", {"metadata": {"finalizers": None}}, ctype="application/merge-patch+json")
    assert srv.get(url + "/fin")[0] == 404


def test_delete_collection_and_namespace(srv):
    srv.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}})
    url = SEC.format("doomed")
    for name, app in (("x1", "a"), ("x2", "a"), ("x3", "b")):
        srv.ok("POST", url, secret(name, labels={"app": app}))
    out = srv.ok("DELETE", url + "?labelSelector=app%3Da")
    assert sorted(o["metadata"]["name"] for o in out["items"]) == ["x1", "x2"]
    assert [o["metadata"]["name"] for o in srv.ok("GET", url)["items"]] == ["x3"]
    srv.ok("DELETE", "/api/v1/namespaces/doomed")
    wait_for(lambda: srv.ok("GET", "/api/v1/secrets?fieldSelector=metadata.namespace%3Ddoomed")["items"] == [],
             what="namespace content deleted")
    assert srv.post(url, secret("late"))[0] == 404


def test_crd_deletion_stops_serving(srv):
    body = crd_body()
    body["metadata"]["name"] = "gadgets.example.dev"
    body["spec"]["names"] = {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"}
    body["spec"]["scope"] = "Cluster"
    srv.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body)
    srv.ok("POST", "/apis/example.dev/v1/gadgets", {"apiVersion": "example.dev/v1", "kind": "Gadget",
                                                    "metadata": {"name": "g1"}})
    assert srv.get("/apis/example.dev/v1/namespaces/default/gadgets")[0] == 404   # cluster-scoped
    srv.ok("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.dev")
    wait_for(lambda: srv.get("/apis/example.dev/v1/gadgets")[0] == 404, what="gadgets no longer served")
    bad = crd_body()
    bad["metadata"]["name"] = "wrong.example.dev"
    code, _h, data = srv.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", bad)
    assert code == 422


def test_watch_single_object_and_leases(srv, ns):
    url = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
    lease = srv.ok("POST", url, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                 "metadata": {"name": "leader"}, "spec": {"holderIdentity": "a"}})
    srv.ok("POST", url, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "other"}})
    w = Watch(srv, url + "/leader?watch=1&resourceVersion=" + lease["metadata"]["resourceVersion"]
              + "&timeoutSeconds=5")
    try:
        srv.ok("PATCH", url + "/other", {"spec": {"holderIdentity": "z"}}, ctype="application/merge-patch+json")
        renewed = dict(lease, spec={"holderIdentity": "b"})
        srv.ok("PUT", url + "/leader", renewed)
        ev = w.next()
        assert ev["type"] == "MODIFIED" and ev["object"]["spec"]["holderIdentity"] == "b"
        assert "generation" not in ev["object"]["metadata"]
    finally:
        w.close()
    code, _h, _d = srv.put(url + "/leader", renewed)
    assert code == 409
    ev = srv.ok("POST", f"/api/v1/namespaces/{ns}/events", {
        "apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "ss."},
        "involvedObject": {"kind": "SealedSecret", "name": "x", "namespace": ns},
        "type": "Normal", "reason": "Unsealed", "message": "done"})
    got = srv.ok("GET", f"/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name%3Dx,reason%3DUnsealed")
    assert [e["metadata"]["name"] for e in got["items"]] == [ev["metadata"]["name"]]


def test_kubeconfig_and_plain_http(fresh, srv):
    with open(srv.kubeconfig) as f:
        kc = f.read()
    with open(srv.state + "/ca.crt", "rb") as f:
        ca = base64.b64encode(f.read()).decode()
    assert f"certificate-authority-data: {ca}" in kc
    assert f'token: "{srv.token}"' in kc and f'server: "{srv.url}"' in kc
    plain = fresh(tls=False, token=None)
    assert plain.url.startswith("http://")
    assert plain.ok("GET", "/api/v1/namespaces/default")["metadata"]["name"] == "default"
    with open(plain.kubeconfig) as f:
        assert "token" not in f.read()


def test_many_objects_list_page_and_watch(fresh):
    import threading
    s = fresh("--namespace", "n1", "--namespace", "n2", "--namespace", "n3")
    errors = []

    def make(ns, count):
        c = s.conn()
        try:
            for i in range(count):
                body = json.dumps(secret(f"s{i:04d}", {"k": "v"}, labels={"odd": str(i % 2)})).encode()
                c.request("POST", SEC.format(ns), body=body, headers={
                    "Authorization": "Bearer " + s.token, "Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                if r.status != 201:
                    errors.append(r.status)
        finally:
            c.close()
    threads = [threading.Thread(target=make, args=(ns, 1000)) for ns in ("n1", "n2", "n3")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seen, cont = [], ""
    while True:
        lst = s.ok("GET", "/api/v1/secrets?limit=700" + (f"&continue={cont}" if cont else ""))
        seen += [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in lst["items"]]
        cont = lst["metadata"].get("continue")
        if not cont:
            break
    assert len(seen) == 3000 and seen == sorted(seen)
    odd = s.ok("GET", "/api/v1/secrets?labelSelector=odd%3D1&limit=400")
    assert len(odd["items"]) == 400 and "remainingItemCount" not in odd["metadata"]
    w = Watch(s, "/api/v1/secrets?watch=1&timeoutSeconds=2&labelSelector=odd%3D0")
    n = 0
    while w.next() is not None:
        n += 1
    w.close()
    assert n == 1500


def test_closed_watch_clients_are_dropped(fresh):
    s = fresh()
    url = SEC.format("default")
    for _ in range(3):
        Watch(s, url + "?watch=1").close()          # no bookmarks: only the peer check notices
    live = Watch(s, url + "?watch=1")
    try:
        assert s.ok("GET", "/_test/watches", token="")["open"] == 4
        wait_for(lambda: s.ok("GET", "/_test/watches", token="") == {"open": 1, "byResource": {"secrets": 1}},
                 timeout=8, what="closed watches dropped")
        s.ok("POST", url, secret("poke"))
        assert live.next()["object"]["metadata"]["name"] == "poke"
    finally:
        live.close()


def test_watch_replay_applies_selectors(srv, ns):
    url = SEC.format(ns)
    start = srv.ok("POST", url, secret("rp", labels={"app": "no"}))
    srv.ok("POST", url, secret("rp-other", labels={"app": "yes"}))
    for value in ("yes", "no"):
        srv.ok("PATCH", url + "/rp", {"metadata": {"labels": {"app": value}}}, ctype="application/merge-patch+json")
    rv = start["metadata"]["resourceVersion"]
    w = Watch(srv, url + f"?watch=1&timeoutSeconds=1&resourceVersion={rv}&labelSelector=app%3Dyes")
    got = []
    while (ev := w.next()) is not None:
        got.append((ev["type"], ev["object"]["metadata"]["name"]))
    w.close()
    assert got == [("ADDED", "rp-other"), ("ADDED", "rp"), ("DELETED", "rp")]
    w = Watch(srv, url + f"?watch=1&timeoutSeconds=1&resourceVersion={rv}&fieldSelector=metadata.name%3Drp")
    got = []
    while (ev := w.next()) is not None:
        got.append(ev["type"])
    w.close()
    assert got == ["MODIFIED", "MODIFIED"]


def test_bad_snapshot_is_a_clear_error(tmp_path):
    import subprocess
    import sys
    from conftest import SERVER
    state = tmp_path / "state"
    state.mkdir()
    (state / "objects.json").write_text('{"objects": [{"group": "", "plural": "secrets"')
    p = subprocess.run([sys.executable, SERVER, "--port", "0", "--kubeconfig-out", str(tmp_path / "kc"),
                        "--state-dir", str(state)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and p.stdout == ""
    assert "cannot load the snapshot" in p.stderr and "Traceback" not in p.stderr
