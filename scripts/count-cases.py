#!/usr/bin/python3
"""Counts test cases, not test programs, over the last `meson test` run of
each build folder given, and prints `N passed, N failed, N skipped`.

  scripts/count-cases.py BUILD_DIR...

For each test in BUILD_DIR/meson-logs/testlog.json, and in testlog-valgrind.json
(`meson test --setup valgrind`, scripts/test.sh runs it after the plain run)
when that is not older:
  - a pytest run: its cases from the JUnit XML it wrote to
    BUILD_DIR/meson-logs/cases/NAME.xml (tests/meson.build passes --junitxml);
  - a cmocka program: its cases from cmocka's summary lines
    ("[==========] N test(s) run.", "[  PASSED  ]", "[  FAILED  ]",
    "[  SKIPPED ]"), one block per group;
  - anything else (a fuzz corpus replay, a valgrind wrapper): one case, by
    meson's result (SKIP, i.e. exit 77, is a skipped case).
A test meson counts as failed (or timed out) whose cases show no failure
adds one failed case, so a crash after the last case still counts.

Prints the failed and skipped cases by name. Exits 1 when a case failed, when
nothing ran, or, with CI=true in the environment, when a case was skipped.
"""

import json
import os
import re
import sys
import xml.etree.ElementTree as ET

GROUP_RUN = re.compile(r"^\[=+\] (\d+) test\(s\) run\.$", re.M)
SUMMARY = re.compile(r"^\[  (PASSED|FAILED|SKIPPED) +\] (\d+) test\(s\)", re.M)
LISTED = re.compile(r"^\[  (FAILED|SKIPPED) +\] (\S+)$", re.M)
OK_RESULTS = ("OK", "EXPECTEDFAIL")


def pytest_cases(path, name):
    """(passed, failed, skipped, names of failed and skipped cases) from JUnit XML."""
    root = ET.parse(path).getroot()
    passed = failed = skipped = 0
    bad = []
    for case in root.iter("testcase"):
        label = f"{name}: {case.get('classname', '')}::{case.get('name', '')}"
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            failed += 1
            bad.append("FAILED  " + label)
        elif "skipped" in kinds:
            skipped += 1
            reason = next(c for c in case if c.tag == "skipped").get("message", "")
            bad.append(f"SKIPPED {label} ({reason})")
        else:
            passed += 1
    return passed, failed, skipped, bad


def cmocka_cases(text, name):
    """The same from cmocka's summary lines, or None when text has none."""
    if not GROUP_RUN.search(text):
        return None
    counts = {"PASSED": 0, "FAILED": 0, "SKIPPED": 0}
    for kind, n in SUMMARY.findall(text):
        counts[kind] += int(n)
    run = sum(int(n) for n in GROUP_RUN.findall(text))
    # a case that ran but neither passed, failed nor skipped (an error in its setup)
    failed = counts["FAILED"] + max(0, run - sum(counts.values()))
    bad = list(dict.fromkeys(f"{kind:<7} {name}: {case}" for kind, case in LISTED.findall(text)))
    return counts["PASSED"], failed, counts["SKIPPED"], bad


def records(build_dir):
    """(label, test record) of the last plain run and of its valgrind run, if any."""
    logs = os.path.join(build_dir, "meson-logs")
    plain = os.path.join(logs, "testlog.json")
    with open(plain, encoding="utf-8") as f:
        got = [("", json.loads(line)) for line in f if line.strip()]
    memcheck = os.path.join(logs, "testlog-valgrind.json")
    try:
        # a valgrind log older than the plain run is a leftover of an earlier one
        if os.path.getmtime(memcheck) >= os.path.getmtime(plain):
            with open(memcheck, encoding="utf-8") as f:
                got += [(" (valgrind)", json.loads(line)) for line in f if line.strip()]
    except OSError:
        pass
    return got


def count(build_dir):
    passed = failed = skipped = 0
    bad = []
    try:
        runs = records(build_dir)
    except (OSError, ValueError) as e:
        return 0, 1, 0, [f"FAILED  {build_dir}: no test log ({e})"]
    for label, r in runs:
        base = r["name"].split(" / ")[-1]
        name = base + label
        result = r["result"]
        xml = os.path.join(build_dir, "meson-logs", "cases", base + ".xml")
        text = (r.get("stdout") or "") + "\n" + (r.get("stderr") or "")
        cmd = r.get("command") or [""]
        got = None
        try:
            # an XML older than this run of the test is a leftover: ignored
            if not label and os.path.getmtime(xml) >= r.get("starttime", 0) - 1:
                got = pytest_cases(xml, name)
        except OSError:
            pass
        except ET.ParseError as e:
            got = (0, 1, 0, [f"FAILED  {name}: unreadable JUnit XML ({e})"])
        if got is None and os.path.basename(cmd[0]) != "valgrind":
            got = cmocka_cases(text, name)
        if got is None:
            if result in OK_RESULTS:
                got = (1, 0, 0, [])
            elif result == "SKIP":
                got = (0, 0, 1, [f"SKIPPED {name} (exit 77)"])
            else:
                got = (0, 1, 0, [f"FAILED  {name} ({result})"])
        p, fl, s, b = got
        if result not in OK_RESULTS + ("SKIP",) and fl == 0:
            fl = 1
            b = b + [f"FAILED  {name} ({result}, exit status {r.get('returncode')})"]
        passed, failed, skipped = passed + p, failed + fl, skipped + s
        bad += b
    return passed, failed, skipped, bad


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    passed = failed = skipped = 0
    for build_dir in argv[1:]:
        p, f, s, bad = count(build_dir)
        passed, failed, skipped = passed + p, failed + f, skipped + s
        for line in bad:
            print(f"{build_dir}: {line}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    if skipped and os.environ.get("CI") == "true":
        print("a skipped case fails the run under CI=true", file=sys.stderr)
        return 1
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
