"""scripts/image.sh builds the controller image offline as an OCI image
layout: one layer with the controller, the libraries ldd names for it, the CA
certificates and passwd/group for the numeric user, and nothing else; the
configuration the Dockerfile's runtime stage describes (user, entrypoint,
ports, labels with the version and commit of scripts/release.sh). The image
is unpacked with umoci and the controller run from it, in a chroot of its own
mount and PID namespaces as the numeric user, against the test API server: a
SealedSecret applied there is unsealed."""

import base64
import hashlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tarfile

import pytest

from apiserver import StandIn
from conftest import ROOT, controller_binary, free_port, seal_cli, wait_for
from test_dockerfile import instructions, stage

ENTRYPOINT = "/usr/local/bin/unseal-controller"
UID = GID = 65532
CRD = ROOT / "examples" / "deploy" / "crd.yaml"


def http_get(port, path):
    """(status, body) of a plain HTTP GET to the controller; (0, b"") when nothing listens."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    except OSError:
        return 0, b""
    finally:
        c.close()


def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: scripts/setup.sh installs it")
    return path


class Image:
    def __init__(self, layout, tag, stderr):
        self.layout, self.tag, self.stderr = layout, tag, stderr
        index = json.loads((layout / "index.json").read_text())
        assert len(index["manifests"]) == 1
        self.index_entry = index["manifests"][0]
        self.manifest = json.loads(self.blob(self.index_entry["digest"]))
        self.config = json.loads(self.blob(self.manifest["config"]["digest"]))

    def blob_path(self, digest):
        algo, hexd = digest.split(":")
        return self.layout / "blobs" / algo / hexd

    def blob(self, digest):
        data = self.blob_path(digest).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest.split(":")[1], f"blob {digest} corrupt"
        return data


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    need("umoci")
    binary = controller_binary()
    layout = tmp_path_factory.mktemp("image") / "oci"
    p = subprocess.run([str(ROOT / "scripts" / "image.sh"), "--output", str(layout),
                        "--binary", binary, "--allow-dirty"],
                       capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, f"scripts/image.sh failed: {p.stderr}"
    ref = p.stdout.strip()
    assert ref.startswith(str(layout) + ":"), ref
    return Image(layout, ref[len(str(layout)) + 1:], p.stderr)


def release_tag():
    p = subprocess.run([str(ROOT / "scripts" / "release.sh"), "--tag-only", "--allow-dirty"],
                       capture_output=True, text=True, check=True)
    return p.stdout.strip()


def test_tag_and_labels_name_the_version_and_commit(image):
    tag = release_tag()
    assert image.tag == tag
    assert image.index_entry["annotations"]["org.opencontainers.image.ref.name"] == tag
    labels = image.config["config"]["Labels"]
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert labels["org.opencontainers.image.version"] == tag[1:]
    assert labels["org.opencontainers.image.revision"] == head
    # the sizes are reported
    assert re.search(r": \d+ bytes in the layout \(compressed\), \d+ bytes unpacked", image.stderr)


def dockerfile_runtime():
    return stage(instructions((ROOT / "Dockerfile").read_text()), 1)


def test_configuration_is_the_dockerfiles(image):
    runtime = dockerfile_runtime()
    cfg = image.config["config"]
    (user,) = [a for w, a in runtime if w == "USER"]
    assert cfg["User"] == user == f"{UID}:{GID}"
    (entry,) = [a for w, a in runtime if w == "ENTRYPOINT"]
    assert cfg["Entrypoint"] == json.loads(entry) == [ENTRYPOINT]
    assert not cfg.get("Cmd")
    ports = " ".join(a for w, a in runtime if w == "EXPOSE").split()
    assert set(cfg["ExposedPorts"]) == {f"{p}/tcp" for p in ports} == {"8080/tcp", "8081/tcp"}
    # LABEL k="v" ..., with the build arguments as scripts/release.sh passes them
    labels = image.config["config"]["Labels"]
    args = {"VERSION": labels["org.opencontainers.image.version"],
            "REVISION": labels["org.opencontainers.image.revision"]}
    want = {}
    for w, a in runtime:
        if w == "LABEL":
            for word in shlex.split(a):
                k, _, v = word.partition("=")
                want[k] = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], v)
    assert labels == want
    assert image.config["os"] == "linux"
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert image.config["architecture"] == arch


def ldd_paths(binary):
    """The files ldd resolves for binary, the loader included."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = set()
    for line in out.splitlines():
        m = re.match(r"\s*\S+ => (/\S+) \(", line) or re.match(r"\s*(/\S+) \(", line)
        if m:
            paths.add(m.group(1))
        else:
            assert "not found" not in line, f"ldd: {line}"
    return paths


def in_merged_usr(path):
    return "/usr" + path if path.startswith(("/lib/", "/lib64/")) else path


def test_layer_holds_what_the_binary_needs_and_nothing_else(image):
    layers = image.manifest["layers"]
    assert len(layers) == 1
    binary = controller_binary()
    with tarfile.open(image.blob_path(layers[0]["digest"]), "r:gz") as tar:
        members = {m.name.lstrip("./").rstrip("/"): m for m in tar.getmembers()}
        members.pop("", None)  # the root folder
        files = {"/" + n for n, m in members.items() if m.isfile()}
        want = {ENTRYPOINT, "/etc/passwd", "/etc/group", "/etc/ssl/certs/ca-certificates.crt"}
        want |= {in_merged_usr(p) for p in ldd_paths(binary)}
        assert files == want
        for n, m in members.items():
            assert m.uid == 0 and m.gid == 0, f"{n} is not owned by root"
            base = n.rsplit("/", 1)[-1]
            assert base not in ("sh", "bash", "dash", "busybox", "apt", "apt-get", "dpkg"), n
            assert m.isfile() or m.isdir() or m.issym(), f"{n}: unexpected member type"
        assert members["lib"].issym() and members["lib"].linkname == "usr/lib"
        assert members["lib64"].issym() and members["lib64"].linkname == "usr/lib64"
        assert members["tmp"].mode & 0o1777 == 0o1777
        entry = tar.extractfile(members[ENTRYPOINT.lstrip("/")]).read()
        with open(binary, "rb") as f:
            assert entry == f.read(), "the entrypoint is not the controller given"
        assert members[ENTRYPOINT.lstrip("/")].mode & 0o777 == 0o755
        passwd = tar.extractfile(members["etc/passwd"]).read().decode()
        group = tar.extractfile(members["etc/group"]).read().decode()
    users = {line.split(":")[2]: line.split(":") for line in passwd.splitlines()}
    assert users[str(UID)][3] == str(GID)
    assert not (set(files) & {users[str(UID)][6]}), "the user's shell must not exist"
    assert f":{GID}:" in group


def test_rootfs_script_refuses_bad_input(tmp_path):
    script = str(ROOT / "scripts" / "image-rootfs.sh")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "text").write_text("not a program")
    cases = [
        ([], "usage"),
        ([str(tmp_path / "missing"), str(tmp_path / "r1")], "is not an executable file"),
        ([str(tmp_path / "text"), str(tmp_path / "r2")], "is not an executable file"),
        ([controller_binary(), str(tmp_path / "full")], "exists and is not empty"),
    ]
    for args, message in cases:
        p = subprocess.run([script, *args], capture_output=True, text=True, check=False)
        assert p.returncode == 2 and message in p.stderr, (args, p.stderr)
    assert os.listdir(tmp_path / "full") == ["x"]
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


def test_image_script_refuses_a_used_output(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep").write_text("x")
    p = subprocess.run([str(ROOT / "scripts" / "image.sh"), "--output", str(tmp_path / "out"),
                        "--binary", controller_binary()], capture_output=True, text=True,
                       check=False)
    assert p.returncode == 2 and "exists and is not an empty folder" in p.stderr, p.stderr
    assert os.listdir(tmp_path / "out") == ["keep"]
    p = subprocess.run([str(ROOT / "scripts" / "image.sh")], capture_output=True, text=True,
                       check=False)
    assert p.returncode == 2 and "--output DIR is required" in p.stderr


def inner_pid(proc):
    """The pid of unshare's forked child (chroot, then the controller)."""
    def child():
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                kids = f.read().split()
        except OSError:
            return None
        return int(kids[0]) if kids else None
    return wait_for(child, "the controller's process", 10)


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)


def test_controller_runs_from_the_image_and_unseals(image, tmp_path):
    if os.geteuid() != 0:
        pytest.fail("running the image needs root (unshare --mount --pid, chroot): CI runs as root")
    need("unshare")
    need("chroot")
    need("kubectl")
    bundle = tmp_path / "bundle"
    p = subprocess.run([need("umoci"), "unpack", "--image", f"{image.layout}:{image.tag}",
                        str(bundle)], capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    rootfs = bundle / "rootfs"

    api = StandIn(tmp_path / "apiserver", namespaces=("seal-system", "app"))
    log = open(tmp_path / "controller.log", "w")
    proc = pid = None
    try:
        api.kubectl("create", "-f", str(CRD))
        # the kubeconfig as a mounted Secret would be: readable by the group only
        (rootfs / "etc" / "seal").mkdir()
        kubeconfig = rootfs / "etc" / "seal" / "kubeconfig"
        shutil.copy(api.kubeconfig, kubeconfig)
        os.chown(kubeconfig, 0, GID)
        os.chmod(kubeconfig, 0o640)
        port, metrics_port = free_port(), free_port()
        env = {"PATH": "/usr/local/bin"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        proc = subprocess.Popen(
            # --kill-child: the controller (PID 1 of its namespace) dies with unshare
            [need("unshare"), "--mount", "--pid", "--fork", "--kill-child",
             f"--mount-proc={rootfs}/proc",
             need("chroot"), f"--userspec={UID}:{GID}", str(rootfs), ENTRYPOINT,
             "--kubeconfig", "/etc/seal/kubeconfig", "--key-namespace", "seal-system",
             "--listen", f"127.0.0.1:{port}", "--metrics-listen", f"127.0.0.1:{metrics_port}",
             "--log-level", "debug"],
            stdout=subprocess.DEVNULL, stderr=log, env=env)
        pid = inner_pid(proc)

        def healthy():
            assert proc.poll() is None, (tmp_path / "controller.log").read_text()
            return http_get(port, "/health")[0] == 200
        wait_for(healthy, "the controller in the image to be healthy")

        # it runs as the numeric user, with no other group
        status = proc_status(pid)
        assert status["Uid"].split() == [str(UID)] * 4
        assert status["Gid"].split() == [str(GID)] * 4
        assert set(status["Groups"].split()) <= {str(GID)}
        assert os.readlink(f"/proc/{pid}/root") == str(rootfs)

        code, cert = http_get(port, "/v1/cert.pem")
        assert code == 200 and b"BEGIN" in cert
        (tmp_path / "cert.pem").write_bytes(cert)
        secret = {"apiVersion": "v1", "kind": "Secret",
                  "metadata": {"name": "from-image", "namespace": "app"},
                  "stringData": {"PASSWORD": "sealed outside, unsealed inside"}}
        sealed = subprocess.run([seal_cli(), "--cert", str(tmp_path / "cert.pem"), "-o", "json"],
                                input=json.dumps(secret), capture_output=True, text=True,
                                timeout=30, check=False)
        assert sealed.returncode == 0, sealed.stderr
        api.kubectl("create", "-f", "-", input=sealed.stdout)

        def get(kind):
            p = api.kubectl("get", kind, "from-image", "-n", "app", "-o", "json", check=False)
            return json.loads(p.stdout) if p.returncode == 0 else None
        got = wait_for(lambda: get("secret"), "the Secret unsealed by the controller in the image")
        assert {k: base64.b64decode(v).decode() for k, v in got["data"].items()} == \
            {"PASSWORD": "sealed outside, unsealed inside"}

        def synced():
            conds = ((get("sealedsecret") or {}).get("status") or {}).get("conditions") or []
            return any(c["type"] == "Synced" and c["status"] == "True" for c in conds)
        wait_for(synced, "Synced=True")
        # /proc is mounted in the image's namespace: the process metrics are there
        _, metrics = http_get(metrics_port, "/metrics")
        assert re.search(rb"^process_resident_memory_bytes [1-9]", metrics, re.M)

        os.kill(pid, signal.SIGTERM)
        assert proc.wait(30) == 0, (tmp_path / "controller.log").read_text()
    finally:
        if proc is not None and proc.poll() is None:
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)  # the namespace's PID 1: all of it goes
                except ProcessLookupError:
                    pass
            proc.kill()
            proc.wait()
        log.close()
        api.stop()
