#!/usr/bin/env python3
"""Run the integration tests against a running stack (see script/test).

Discovers tests/integration/test_*.py (unittest), shows each test's name as
it runs, prints the failures, and ends with the line
``integration: N passed, M failed``. Exits 1 when anything failed.

    python3 tests/integration/run.py               # every test
    python3 tests/integration/run.py -k static     # names matching *static*
"""

import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="patterns", action="append", default=[],
                        help="only run tests whose name contains PATTERN")
    parser.add_argument("-x", "--failfast", action="store_true",
                        help="stop at the first failure")
    args = parser.parse_args()

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = [f"*{p}*" for p in args.patterns]
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)

    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2,
                                     failfast=args.failfast)
    result = runner.run(suite)

    failed = (len(result.failures) + len(result.errors)
              + len(result.unexpectedSuccesses))
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    if skipped:
        print(f"integration: {skipped} skipped")
    print(f"integration: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
