"""The Dockerfile builds with the commands CI uses and its runtime stage
installs a Debian package for every shared library the built controller
loads. No container engine runs here: the checks read the Dockerfile and ask
ldd and dpkg about the binary built by this very build."""

import os
import re
import shlex
import shutil
import subprocess

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


def test_two_stages_on_debian_12_slim(dockerfile):
    froms = [a for _, w, a in dockerfile if w == "FROM"]
    assert len(froms) == 2
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for s, w, a in dockerfile if w == "ARG" and s < 0
            and "=" in a}
    resolved = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], f.split()[0]) for f in froms]
    assert resolved == ["debian:12-slim", "debian:12-slim"]
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


def test_runtime_stage_is_small_and_unprivileged(dockerfile):
    runtime = apt_installed(dockerfile, 1)
    assert not {p for p in runtime if p.endswith("-dev")}
    assert not runtime & {"gcc", "meson", "ninja-build", "pkg-config", "python3"}
    users = [a for w, a in stage(dockerfile, 1) if w == "USER"]
    assert len(users) == 1
    uid = users[0].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "USER must be a numeric, non-root id"
    entry = [a for w, a in stage(dockerfile, 1) if w == "ENTRYPOINT"]
    assert entry == ['["/usr/local/bin/unseal-controller"]']
    # The binary copied in is the one the build stage installed there.
    copies = [a for w, a in stage(dockerfile, 1) if w == "COPY"]
    assert copies == ["--from=build /out/ /"]
    installs = [c for c in run_commands(dockerfile, 0) if c[:1] == ["install"]]
    assert installs and installs[0][-1] == "/out/usr/local/bin/unseal-controller"


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


# The built controller: ldd and dpkg.

def controller():
    path = controller_binary()
    for tool in ("ldd", "dpkg", "dpkg-query", "readelf"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    return path


def owning_packages(paths):
    """{path: Debian package} for each path, with one dpkg -S call. A library
    may be known to dpkg under /lib or /usr/lib (merged /usr), so both are
    asked."""
    variants = {}
    for path in paths:
        forms = {path, os.path.realpath(path)}
        forms |= {f[4:] if f.startswith("/usr/") else "/usr" + f for f in list(forms)}
        variants[path] = forms
    asked = sorted(set().union(*variants.values())) if variants else []
    proc = subprocess.run(["dpkg", "-S", *asked], capture_output=True, text=True, check=False)
    owner = {}
    for line in proc.stdout.splitlines():
        pkgs, _, path = line.partition(": ")
        owner[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    out = {}
    for path, forms in variants.items():
        found = [owner[f] for f in forms if f in owner]
        assert found, f"no Debian package owns {path}"
        out[path] = found[0]
    return out


def ldd_libraries(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line) or re.match(r"\s*(/\S+) \(", line)
        if m:
            libs[m.group(1)] = m.group(m.lastindex)
        else:
            assert "vdso" in line or "not found" not in line, f"ldd: {line}"
    return libs


def needed(binary):
    out = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True,
                         check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out)


def depends_closure(packages):
    """The packages plus everything they depend on, as installed here."""
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Depends}, ${Pre-Depends}\n"],
                          capture_output=True, text=True, check=True)
    depends = {}
    for line in proc.stdout.splitlines():
        pkg, _, deps = line.partition("\t")
        names = [alt.strip().split(" ")[0].split(":")[0] for alt in re.split(r"[,|]", deps)]
        depends[pkg] = [n for n in names if n]
    seen, todo = set(), list(packages)
    while todo:
        pkg = todo.pop()
        if pkg not in seen:
            seen.add(pkg)
            todo.extend(depends.get(pkg, []))
    return seen


SANITIZER_RUNTIME = re.compile(r"^lib(asan|ubsan|lsan|tsan|hwasan)\.so")


def test_runtime_installs_every_library_ldd_lists(dockerfile):
    binary = controller()
    runtime = apt_installed(dockerfile, 1)
    libs = ldd_libraries(binary)
    assert libs, "ldd lists no libraries: the controller is not dynamically linked"
    owner = owning_packages(libs.values())
    closure = depends_closure(runtime)
    # The image is a release build. In a sanitizer build (CI's second run)
    # the sanitizer runtimes and what only they pull in are not the image's.
    sanitizer = {owner[path] for soname, path in libs.items() if SANITIZER_RUNTIME.match(soname)}
    sanitizer_only = depends_closure(sanitizer) - closure if sanitizer else set()
    direct = {owner[libs[soname]] for soname in needed(binary)
              if not SANITIZER_RUNTIME.match(soname)}
    # The libraries the controller itself links: named in the Dockerfile.
    assert not direct - runtime, f"runtime stage does not install {sorted(direct - runtime)}"
    # Everything they pull in: brought by those packages' dependencies.
    for soname, path in libs.items():
        pkg = owner[path]
        assert pkg in closure or pkg in sanitizer_only, \
            f"{soname} ({pkg}) is installed by nothing in the runtime stage"


def test_runtime_installs_nothing_the_controller_does_not_load(dockerfile):
    binary = controller()
    loaded = set(owning_packages(ldd_libraries(binary).values()).values())
    extra = apt_installed(dockerfile, 1) - loaded
    assert not extra, f"runtime stage installs {sorted(extra)}, which the controller does not load"


def test_entrypoint_binary_is_the_controller_meson_builds(dockerfile):
    binary = controller()
    installs = [c for c in run_commands(dockerfile, 0) if c[:1] == ["install"]]
    source = installs[0][-2]
    meson = [c for c in run_commands(dockerfile, 0) if c[:2] == ["meson", "setup"]][0]
    assert source.startswith(meson[2] + "/")
    # Same path inside the build folder as this build's controller.
    assert binary.endswith("/" + source.split("/", 1)[1])
