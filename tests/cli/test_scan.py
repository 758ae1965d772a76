"""seal scan: plain-text Secrets in a tree or in staged changes."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import SEAL, fails, ok, run, secret_json, secret_yaml


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def tree(tmp_path, keys):
    root = tmp_path / "repo"
    write(root / "apps" / "db.yaml",
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n---\n" +
          secret_yaml(name="db", namespace="prod", data={"pw": "x"}))
    write(root / "apps" / "api.json", secret_json(name="api", namespace="web", data={"k": "v"}))
    write(root / "apps" / "empty.yml", secret_yaml(name="empty", data=None))
    write(root / "apps" / "notes.txt", secret_yaml(name="txt", data={"a": "b"}))
    sealed = ok("--cert", keys.pub[0], stdin=secret_yaml(name="sealed", data={"a": "1"})).text
    write(root / "apps" / "sealed.yaml", sealed)
    write(root / ".git" / "x.yaml", secret_yaml(name="in-git", data={"a": "b"}))
    write(root / "build" / "x.yaml", secret_yaml(name="in-build", data={"a": "b"}))
    write(root / "out" / "meson-private" / "keep", "")
    write(root / "out" / "x.yaml", secret_yaml(name="in-meson-build", data={"a": "b"}))
    return root


def test_scan_finds_secrets_with_data(tree):
    r = run("scan", cwd=tree)
    assert r.rc == 1, r
    lines = sorted(r.text.splitlines())
    assert lines == ["apps/api.json:1: web/api", "apps/db.yaml:6: prod/db"], lines
    assert "2 plain-text Secrets" in r.err


def test_scan_paths_and_string_data(tree, tmp_path):
    d = tmp_path / "other"
    write(d / "s.yaml", secret_yaml(name="sd", namespace=None, string_data={"a": "b"}))
    r = run("scan", str(d), str(tree / "apps" / "api.json"))
    assert r.rc == 1
    assert sorted(r.text.splitlines()) == sorted([f"{d}/s.yaml:1: default/sd",
                                                 f"{tree}/apps/api.json:1: web/api"])


def test_scan_clean_tree_exits_0(tree):
    r = ok("scan", str(tree / "apps" / "sealed.yaml"), str(tree / "apps" / "empty.yml"))
    assert r.out == b""
    r = ok("scan", "--exclude", "apps/db.yaml", "--exclude", "*.json", cwd=tree)
    assert r.out == b""


def test_scan_exclude_folder(tree):
    r = run("scan", "--exclude", "apps", cwd=tree)
    assert r.rc == 0 and r.out == b""


def test_scan_list_documents(tmp_path):
    write(tmp_path / "list.json",
          '{"apiVersion": "v1", "kind": "List", "items": [' + secret_json(name="in-list", data={"a": "b"}) + "]}")
    r = run("scan", str(tmp_path))
    assert r.rc == 1 and "kotaemon/in-list" in r.text


def test_scan_unparsable_file_that_mentions_a_secret(tmp_path):
    write(tmp_path / "helm.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Values.name }\ndata:\n  pw: {{ .Values.pw }}\n")
    write(tmp_path / "junk.yaml", "this: [is: not yaml\n")
    r = run("scan", str(tmp_path))
    assert r.rc == 1, r
    [line] = r.text.splitlines()
    assert line.startswith(f"{tmp_path}/helm.yaml:2: ") and "unparsable" in line


def test_scan_unparsable_without_secret_is_skipped(tmp_path):
    write(tmp_path / "junk.yaml", "this: [is: not yaml\n")
    write(tmp_path / "sealed-ish.yaml", "kind: SealedSecret\ndata: [\n")
    r = ok("scan", str(tmp_path))
    assert r.out == b""


def test_scan_missing_path(tmp_path):
    r = run("scan", str(tmp_path / "nope"))
    assert r.rc == 2 and "nope" in r.err


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q")
    return r


def test_scan_staged(repo, keys):
    write(repo / "clean.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    git(repo, "add", "clean.yaml")
    assert ok("scan", "--staged", cwd=repo).out == b""
    # the staged blob counts, not the working tree file
    write(repo / "s.yaml", secret_yaml(name="staged", data={"a": "b"}))
    git(repo, "add", "s.yaml")
    write(repo / "s.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    r = run("scan", "--staged", cwd=repo)
    assert r.rc == 1 and r.text == "s.yaml:1: kotaemon/staged\n"
    r = run("scan", "--staged", "--exclude", "s.yaml", cwd=repo)
    assert r.rc == 0
    # an unstaged Secret is not looked at
    git(repo, "add", "s.yaml")
    write(repo / "unstaged.yaml", secret_yaml(name="u", data={"a": "b"}))
    assert ok("scan", "--staged", cwd=repo).out == b""


def test_scan_staged_outside_git(tmp_path):
    r = run("scan", "--staged", cwd=tmp_path, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert r.rc == 2


def test_install_hook_blocks_commit(repo, keys):
    r = ok("scan", "--install-hook", cwd=repo)
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert oct(hook.stat().st_mode & 0o777) == "0o755"
    assert "scan --staged" in hook.read_text()
    write(repo / "s.yaml", secret_yaml(name="leak", data={"a": "b"}))
    git(repo, "add", "s.yaml")
    with pytest.raises(subprocess.CalledProcessError) as e:
        git(repo, "commit", "-q", "-m", "leak")
    assert b"kotaemon/leak" in e.value.stdout + e.value.stderr
    # sealing it lets the commit through
    sealed = ok("--cert", keys.pub[0], stdin=(repo / "s.yaml").read_text()).text
    write(repo / "s.yaml", sealed)
    git(repo, "add", "s.yaml")
    git(repo, "commit", "-q", "-m", "sealed")
    # installing again replaces our own hook
    ok("scan", "--install-hook", cwd=repo)


def test_install_hook_keeps_foreign_hook(repo):
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\necho mine\n")
    r = fails(1, "scan", "--install-hook", cwd=repo)
    assert "pre-commit" in r.err
    assert hook.read_text() == "#!/bin/sh\necho mine\n"


def test_install_hook_outside_git(tmp_path):
    r = run("scan", "--install-hook", cwd=tmp_path, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert r.rc == 2


def test_scan_usage():
    assert run("scan", "--install-hook", "--staged").rc == 2
    assert run("scan", "--staged", "x").rc == 2
    assert run("scan", "--exclude").rc == 2


def test_scan_follows_named_links_only(tmp_path):
    real = tmp_path / "outside" / "real.yaml"
    write(real, secret_yaml(name="linked", data={"a": "b"}))
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link.yaml").symlink_to(real)
    (tree / "dir-link").symlink_to(real.parent)
    assert ok("scan", str(tree)).out == b""
    r = run("scan", str(tree / "link.yaml"))
    assert r.rc == 1 and "default/linked" not in r.text and "kotaemon/linked" in r.text
    (tree / "dangling.yaml").symlink_to(tmp_path / "nowhere")
    assert run("scan", str(tree / "dangling.yaml")).rc == 2


def test_scan_output_escapes_names_from_the_files(tmp_path):
    # a file under review names its Secret with a terminal title, a bell, a
    # right-to-left override and a C1 CSI: printed escaped, not obeyed
    doc = json.loads(secret_json(name="x", namespace="y", data={"a": "b"}))
    doc["metadata"]["name"] = "\x1b]0;pwned\x07\u009b2J"
    doc["metadata"]["namespace"] = "ns\u202eevil"
    write(tmp_path / "hostile.json", json.dumps(doc))
    r = run("scan", str(tmp_path))
    assert r.rc == 1, r
    assert not any(c in r.text for c in ["\x1b", "\x07", "\u009b", "\u202e"]), repr(r.text)
    assert "ns\\u202eevil/\\x1b]0;pwned\\x07\\u009b2J" in r.text, r.text


def test_scan_kustomize_secret_generator_literals(tmp_path):
    write(tmp_path / "app" / "kustomization.yaml",
          "resources: [deploy.yaml]\n"
          "secretGenerator:\n"
          "- name: db-creds\n"
          "  literals:\n"
          "  - username=admin\n"
          "  - password=hunter2-literal\n")
    r = run("scan", str(tmp_path))
    assert r.rc == 1, r
    assert sorted(r.text.splitlines()) == [
        f"{tmp_path}/app/kustomization.yaml:1: secretGenerator db-creds: password",
        f"{tmp_path}/app/kustomization.yaml:1: secretGenerator db-creds: username"], r.text
    assert "hunter2-literal" not in r.text + r.err


def test_scan_kustomize_secret_generator_envs_and_files(tmp_path):
    write(tmp_path / "Kustomization",
          "secretGenerator:\n"
          "- name: api\n"
          "  envs: [conf/api.env]\n"
          "  files: [tls.key, token=secrets/tok.txt]\n")
    write(tmp_path / "conf" / "api.env", "# comment\n\nAPI_TOKEN=s3cr3t-env\n  DEBUG=1\n")
    r = run("scan", str(tmp_path))
    assert r.rc == 1, r
    assert sorted(r.text.splitlines()) == sorted([
        f"{tmp_path}/Kustomization:1: secretGenerator api: tls.key",
        f"{tmp_path}/Kustomization:1: secretGenerator api: token",
        f"{tmp_path}/conf/api.env:3: secretGenerator api: API_TOKEN",
        f"{tmp_path}/conf/api.env:4: secretGenerator api: DEBUG"]), r.text
    assert "s3cr3t-env" not in r.text + r.err


def test_scan_kustomize_missing_env_file_is_an_error(tmp_path):
    write(tmp_path / "kustomization.yml",
          "secretGenerator:\n- name: api\n  envs: [missing.env]\n")
    r = run("scan", str(tmp_path))
    assert r.rc != 0 and r.rc != 1, r
    assert "missing.env" in r.err


def test_scan_kustomize_without_secrets_is_not_reported(tmp_path):
    write(tmp_path / "a" / "kustomization.yaml",
          "secretGenerator:\n- name: empty\n  literals: []\n")
    write(tmp_path / "b" / "kustomization.yaml",
          "resources: [deploy.yaml]\n"
          "configMapGenerator:\n- name: cfg\n  literals: [LOG=debug]\n")
    r = ok("scan", str(tmp_path))
    assert r.out == b""


def test_scan_json_output(tree, tmp_path):
    write(tmp_path / "k" / "kustomization.yaml",
          'secretGenerator:\n- name: "g\\"q"\n  literals: ["K\\\\ey=v"]\n')
    r = run("scan", "-o", "json", cwd=tree)
    assert r.rc == 1, r
    doc = json.loads(r.out)
    assert sorted(doc["findings"], key=lambda f: f["file"]) == [
        {"file": "apps/api.json", "line": 1, "namespace": "web", "name": "api"},
        {"file": "apps/db.yaml", "line": 6, "namespace": "prod", "name": "db"}]
    r = run("scan", "--output", "json", str(tmp_path / "k"))
    assert r.rc == 1, r
    assert json.loads(r.out) == {"findings": [
        {"file": f"{tmp_path}/k/kustomization.yaml", "line": 1, "secretGenerator": 'g"q', "key": "K\\ey"}]}
    r = ok("scan", "-o", "json", str(tree / "apps" / "sealed.yaml"))
    assert json.loads(r.out) == {"findings": []}
    r = run("scan", "-o", "xml", cwd=tree)
    assert r.rc == 2 and r.out == b"" and "use text or json" in r.err
