"""The Dockerfile builds with the commands CI uses, and its runtime stage is
the root filesystem scripts/image-rootfs.sh lays out from the built
controller, run as a numeric user. No container engine runs here: the checks
read the Dockerfile (tests/examples/test_image.py builds the same image with
scripts/image.sh and runs it)."""

import re
import shlex

import pytest

from conftest import ROOT, controller_binary

DOCKERFILE = ROOT / "Dockerfile"


def instructions(text):
    """[(stage index, INSTRUCTION, arguments)] with continuations joined and
    comments dropped."""
    out, stage, buf = [], -1, ""
    for line in text.splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        word, _, rest = buf.partition(" ")
        word = word.upper()
        if word == "FROM":
            stage += 1
        out.append((stage, word, rest.strip()))
        buf = ""
    return out


@pytest.fixture(scope="module")
def dockerfile():
    return instructions(DOCKERFILE.read_text())


def stage(dockerfile, n):
    return [(w, a) for s, w, a in dockerfile if s == n]


def run_commands(dockerfile, n):
    """Every shell command of the RUN lines of stage n, split at && and ;."""
    cmds = []
    for word, args in stage(dockerfile, n):
        if word == "RUN":
            for part in re.split(r"&&|;", args):
                if part.strip():
                    cmds.append(shlex.split(part.strip()))
    return cmds


def apt_installed(dockerfile, n):
    pkgs = set()
    for cmd in run_commands(dockerfile, n):
        while cmd and "=" in cmd[0]:
            cmd = cmd[1:]  # DEBIAN_FRONTEND=...
        if cmd[:2] == ["apt-get", "install"]:
            pkgs |= {a for a in cmd[2:] if not a.startswith("-")}
    return pkgs


def setup_sh_commands():
    """meson and ninja commands of scripts/setup.sh, variables as written."""
    cmds = []
    for line in (ROOT / "scripts" / "setup.sh").read_text().splitlines():
        line = line.strip()
        for tool in ("meson setup", "ninja -C"):
            if line.startswith(tool) or f" {tool} " in f" {line}":
                cmds.append(line[line.index(tool):])
    return cmds


def setup_sh_packages():
    text = (ROOT / "scripts" / "setup.sh").read_text()
    body = re.search(r"packages=\((.*?)\)", text, re.S).group(1)
    return set(body.split())


def test_built_on_debian_12_slim_run_from_scratch(dockerfile):
    froms = [a for _, w, a in dockerfile if w == "FROM"]
    assert len(froms) == 2
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for s, w, a in dockerfile if w == "ARG" and s < 0
            and "=" in a}
    resolved = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], f.split()[0]) for f in froms]
    assert resolved == ["debian:12-slim", "scratch"]
    assert froms[0].endswith("AS build")


def test_build_commands_are_the_ones_ci_uses(dockerfile):
    ci = setup_sh_commands()
    assert any(c.startswith("meson setup") for c in ci), ci
    assert any(c.startswith("ninja -C") for c in ci), ci
    cmds = run_commands(dockerfile, 0)
    meson = [c for c in cmds if c[:2] == ["meson", "setup"]]
    ninja = [c for c in cmds if c[:1] == ["ninja"]]
    assert len(meson) == 1 and len(ninja) == 1
    build_dir = meson[0][2]
    # setup.sh: meson setup "$BUILD_DIR" <options>; ninja -C "$BUILD_DIR".
    assert ninja[0] == ["ninja", "-C", build_dir]
    assert meson[0][3:] == ["--buildtype=release"]
    # The order CI runs them in.
    assert cmds.index(meson[0]) < cmds.index(ninja[0])


def test_build_stage_installs_what_setup_sh_builds_with(dockerfile):
    wanted = {p for p in setup_sh_packages() if p.endswith("-dev") and "clang" not in p}
    wanted |= {"meson", "ninja-build", "pkg-config", "gcc"}
    missing = wanted - apt_installed(dockerfile, 0)
    assert not missing, f"build stage lacks {sorted(missing)}"


def test_runtime_stage_is_the_rootfs_script_and_unprivileged(dockerfile):
    runtime = stage(dockerfile, 1)
    # Nothing runs in the image: no shell, no package manager to run it with.
    assert not [a for w, a in runtime if w == "RUN"]
    users = [a for w, a in runtime if w == "USER"]
    assert len(users) == 1
    uid = users[0].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "USER must be a numeric, non-root id"
    entry = [a for w, a in runtime if w == "ENTRYPOINT"]
    assert entry == ['["/usr/local/bin/unseal-controller"]']
    # The only files: the root filesystem scripts/image-rootfs.sh laid out
    # from the binary the build stage installed.
    copies = [a for w, a in runtime if w == "COPY"]
    assert copies == ["--from=build /rootfs/ /"]
    installs = [c for c in run_commands(dockerfile, 0) if c[:1] == ["install"]]
    rootfs = [c for c in run_commands(dockerfile, 0) if c[:1] == ["scripts/image-rootfs.sh"]]
    assert len(installs) == 1 and len(rootfs) == 1
    assert rootfs[0] == ["scripts/image-rootfs.sh", installs[0][-1], "/rootfs"]
    cmds = run_commands(dockerfile, 0)
    assert cmds.index(installs[0]) < cmds.index(rootfs[0])
    # what the script needs on the build stage: ldd (libc-bin, in every
    # Debian image) and the CA certificates it copies
    assert "ca-certificates" in apt_installed(dockerfile, 0)


def test_version_label_comes_from_a_build_argument(dockerfile):
    runtime = stage(dockerfile, 1)
    assert any(w == "ARG" and a.split("=")[0] == "VERSION" for w, a in runtime)
    labels = " ".join(a for w, a in runtime if w == "LABEL")
    assert 'org.opencontainers.image.version="${VERSION}"' in labels
    assert 'org.opencontainers.image.revision="${REVISION}"' in labels


def test_dockerignore_keeps_build_folders_and_git_out():
    lines = {l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()
             if l.strip() and not l.startswith("#")}
    assert {".git", "build", "build-*"} <= lines
    # meson needs these in the context to configure at all.
    for needed in ("meson.build", "keys", "manifest", "kube", "seal", "unseal-controller",
                   "tests", "common", "scripts"):
        assert needed not in lines


def test_entrypoint_binary_is_the_controller_meson_builds(dockerfile):
    binary = controller_binary()
    installs = [c for c in run_commands(dockerfile, 0) if c[:1] == ["install"]]
    source = installs[0][-2]
    meson = [c for c in run_commands(dockerfile, 0) if c[:2] == ["meson", "setup"]][0]
    assert source.startswith(meson[2] + "/")
    # Same path inside the build folder as this build's controller.
    assert binary.endswith("/" + source.split("/", 1)[1])
