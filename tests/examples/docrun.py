"""Running the shell commands of a Markdown document as written.

A document's fenced blocks marked ```sh, ```bash or ```console are its
commands (in a console block, the lines after a `$ ` prompt, with their `\\`
continuations; the rest is shown output). They run in document order, each
block as one `bash -e -o pipefail` script, from the root of a temporary Git
repository (a copy of this one, or a user's own), with the user's environment
the test gives them. What a
document marks, visibly, is all that changes:

- a block whose first line is a comment `# not run by the docs test: REASON`
  is shown, not run (it needs what the test cannot have, e.g. Argo CD);
- `<name>` in a command (angle brackets around a word) is a placeholder for
  what only the reader knows; the test gives each one a value, and a
  placeholder without a value fails the test.

Standard library only, like the rest of the examples suite."""

import dataclasses
import os
import pathlib
import re
import subprocess

SKIP_MARK = "# not run by the docs test:"
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
PLACEHOLDER = re.compile(r"<([A-Za-z][A-Za-z0-9_.-]*)>")
RUNNABLE = ("sh", "bash", "console")


@dataclasses.dataclass
class Block:
    doc: str
    line: int           # 1-based line of the opening fence
    lang: str
    text: str           # the block as shown (indentation of a list item removed)
    skip: str | None    # the reason given after SKIP_MARK, or None
    output: str = ""    # its standard output, once it ran

    def where(self):
        return f"{self.doc}:{self.line}"

    def script(self, values):
        """The commands with the placeholders given their values."""
        text = self.text
        if self.lang == "console":
            lines, cont = [], False
            for ln in text.splitlines():
                if ln.startswith("$ ") or cont:
                    lines.append(ln[2:] if ln.startswith("$ ") and not cont else ln)
                    cont = ln.endswith("\\")
            text = "\n".join(lines) + "\n"
        missing = sorted({m for m in PLACEHOLDER.findall(text) if m not in values})
        if missing:
            raise AssertionError(f"{self.where()}: placeholder(s) {', '.join('<%s>' % m for m in missing)} "
                                 "have no value in the test")
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def blocks(path, root):
    """Every sh/bash/console block of the Markdown file at path, in order."""
    found, lines = [], pathlib.Path(path).read_text().splitlines()
    rel = str(pathlib.Path(path).relative_to(root))
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = m.group(1), m.group(2), i
        i += 1
        body = []
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            ln = lines[i]
            body.append(ln[len(indent):] if ln.startswith(indent) else ln.lstrip())
            i += 1
        if i >= len(lines):
            raise AssertionError(f"{rel}:{start + 1}: code block never closed")
        i += 1
        if lang not in RUNNABLE:
            continue
        first = next((b.strip() for b in body if b.strip()), "")
        skip = first[len(SKIP_MARK):].strip() if first.startswith(SKIP_MARK) else None
        if first.startswith("#") and "not run" in first and skip is None:
            raise AssertionError(f"{rel}:{start + 1}: write the mark as '{SKIP_MARK} REASON'")
        if skip == "":
            raise AssertionError(f"{rel}:{start + 1}: '{SKIP_MARK}' needs a reason")
        found.append(Block(rel, start + 1, lang, "\n".join(body) + "\n", skip))
    return found


def run_block(block, values, cwd, env, scripts_dir, timeout=180):
    """Runs one block; returns the CompletedProcess, or fails naming the block."""
    script = block.script(values)
    path = pathlib.Path(scripts_dir) / f"{block.doc.replace('/', '_')}_{block.line}.sh"
    path.write_text(script)
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", str(path)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise AssertionError(
            f"{block.where()}: the block failed (exit {proc.returncode}):\n{script}\n"
            f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc


def copy_repository(root, dest, env):
    """A git repository at dest holding root's files as they are now (tracked and
    untracked but not ignored, so uncommitted edits of the docs are what runs),
    committed once, with a bare `origin` to push to, as a user's clone has.
    With root None, a repository of the user's own with one empty commit."""
    files = b"" if root is None else subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True).stdout
    dest = pathlib.Path(dest)
    for name in sorted(set(files.decode().split("\0")) - {""}):
        src = pathlib.Path(root) / name
        if not src.is_file() and not src.is_symlink():
            continue  # deleted in the work tree
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), target)
        else:
            target.write_bytes(src.read_bytes())
            target.chmod(src.stat().st_mode & 0o777)
    origin = dest.parent / "origin.git"

    def git(*args, cwd=dest):
        subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=True)
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=dest.parent)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "--allow-empty", "-m", "the repository as the docs test found it")
    git("remote", "add", "origin", str(origin))
    git("push", "-q", "-u", "origin", "main")
    return origin
