"""The plugboard command line: version, help, configuration checks, the
route table, and the socket the master creates."""

import json
import os
import stat
import subprocess
import tempfile
import unittest

import pb


def run(*args):
    return subprocess.run([pb.BIN, *args], capture_output=True, text=True, timeout=30)


class CommandLineTest(unittest.TestCase):
    def test_version_names_the_abi(self):
        out = run("--version")
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout, r"^plugboard \d+\.\d+\.\d+ \(module ABI \d+\)")

    def test_help_lists_every_command(self):
        out = run("--help")
        self.assertEqual(out.returncode, 0)
        for cmd in ("serve", "ctl status", "migrate", "routes", "check-config", "render"):
            self.assertIn(cmd, out.stdout)

    def test_unknown_command_is_a_usage_error(self):
        out = run("-c", pb.CONFIG, "frobnicate")
        self.assertEqual(out.returncode, 2)
        self.assertIn('unknown command "frobnicate"', out.stderr)

    def test_check_config_prints_effective_values(self):
        out = run("-c", os.path.join(pb.ROOT, "plugboard.ini"), "check-config")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(f"workers = {3 * os.cpu_count()}", out.stdout)
        self.assertIn("body_max = 10485760", out.stdout)

    def test_check_config_names_file_line_and_option(self):
        with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
            f.write("[server]\nworkers = 4\n\n[limits]\nbody_max = lots\n")
        out = run("-c", f.name, "check-config")
        os.unlink(f.name)
        self.assertEqual(out.returncode, 1)
        self.assertIn(f"{f.name}:5: [limits] body_max expects a size", out.stderr)

    def test_routes_lists_permissions(self):
        out = run("-c", pb.CONFIG, "routes", "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        table = {(r["methods"], r["pattern"]): r for r in json.loads(out.stdout)}
        self.assertEqual(table[("GET, HEAD", "/")]["permission"], "public")
        self.assertEqual(table[("GET, HEAD", "/healthz")]["module"], "system")
        self.assertNotIn(("GET, HEAD", "/test/badabi"), table)

    def test_master_keeps_its_name_after_applying_malloc_tuning(self):
        with open(os.path.join(pb.VAR, "run", "plugboard.pid")) as f:
            pid = f.read().strip()
        with open(f"/proc/{pid}/comm") as f:
            self.assertEqual(f.read().strip(), "plugboard")
        with open(f"/proc/{pid}/environ", "rb") as f:
            self.assertIn(b"glibc.malloc.tcache_count=", f.read())

    def test_socket_is_group_only(self):
        mode = stat.S_IMODE(os.stat(os.path.join(pb.VAR, "run", "plugboard.sock")).st_mode)
        self.assertEqual(mode, 0o660)


if __name__ == "__main__":
    unittest.main()
