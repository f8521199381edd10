#!/usr/bin/env python3
"""Runs the Mustache spec through `plugboard render`.

usage: render_cli.py PLUGBOARD_BINARY SPEC_DIR

For every test of the spec files the engine implements, writes the template,
the data and each partial to a fresh temporary folder (partials as
PARTIALS/<name>.mustache), runs

    PLUGBOARD_BINARY render --partials PARTIALS TEMPLATE DATA.json

and compares standard output byte for byte with "expected". Prints each
failure, then "mustache-cli: N passed, M failed". Exits 1 when a test fails,
2 on a usage error.
"""

import json
import os
import subprocess
import sys
import tempfile

SPEC_FILES = [
    "comments",
    "delimiters",
    "interpolation",
    "inverted",
    "partials",
    "sections",
    "~inheritance",
]

TIMEOUT_SECONDS = 20


def write_bytes(path, text):
    """Writes text as UTF-8, byte for byte (no newline translation)."""
    with open(path, "wb") as f:
        f.write(text.encode("utf-8"))


def run_test(binary, test):
    """Runs one test; returns None when it passes, else a failure report."""
    with tempfile.TemporaryDirectory(prefix="mustache-cli-") as tmp:
        partials = os.path.join(tmp, "partials")
        os.mkdir(partials)
        for name, source in test.get("partials", {}).items():
            write_bytes(os.path.join(partials, name + ".mustache"), source)
        template = os.path.join(tmp, "template.mustache")
        data = os.path.join(tmp, "data.json")
        write_bytes(template, test["template"])
        write_bytes(data, json.dumps(test["data"], ensure_ascii=False))
        try:
            proc = subprocess.run(
                [binary, "render", "--partials", partials, template, data],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return "timed out after %d s" % TIMEOUT_SECONDS
    expected = test["expected"].encode("utf-8")
    if proc.returncode == 0 and proc.stdout == expected:
        return None
    return "exit %d\n  expected: %r\n  got:      %r\n  stderr:   %r" % (
        proc.returncode,
        expected,
        proc.stdout,
        proc.stderr.decode("utf-8", "replace"),
    )


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: render_cli.py PLUGBOARD_BINARY SPEC_DIR\n")
        return 2
    binary, spec_dir = argv[1], argv[2]
    passed = failed = 0
    for name in SPEC_FILES:
        path = os.path.join(spec_dir, name + ".json")
        try:
            with open(path, "rb") as f:
                spec = json.loads(f.read().decode("utf-8"))
        except (OSError, ValueError) as e:
            print("ERROR %s: %s" % (path, e))
            failed += 1
            continue
        for test in spec["tests"]:
            report = run_test(binary, test)
            if report is None:
                passed += 1
            else:
                failed += 1
                print("FAIL %s: %s: %s" % (name, test["name"], report))
    print("mustache-cli: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
