"""The stack itself: nginx in front, serving static files on its own."""

import os
import unittest

import pb


class StaticFilesTest(unittest.TestCase):
    def test_static_file_is_served_with_cache_control(self):
        status, headers, body = pb.request("GET", "/static/robots.txt")
        self.assertEqual(status, 200)
        with open(os.path.join(pb.ROOT, "static", "robots.txt"), "rb") as f:
            self.assertEqual(body, f.read())
        cache = headers.get("cache-control", "")
        self.assertIn("public", cache)
        self.assertRegex(cache, r"max-age=\d+")

    def test_static_error_page_has_the_hosts_security_headers(self):
        # nginx serves it itself (its own location), for the 502/504 it makes
        # when no worker answers: the same headers as a page of the host.
        for path in ("/static/errors/50x.html", "/static/robots.txt"):
            status, headers, _ = pb.request("GET", path)
            self.assertEqual(status, 200, path)
            csp = headers.get("content-security-policy", "")
            self.assertIn("frame-ancestors 'none'", csp, path)
            self.assertIn("default-src 'self'", csp, path)
            self.assertIn("script-src 'self'", csp, path)
            self.assertEqual(headers.get("x-frame-options"), "DENY", path)
            self.assertEqual(headers.get("x-content-type-options"), "nosniff", path)
            self.assertEqual(headers.get("referrer-policy"), "same-origin", path)
        _, page_headers, _ = pb.request("GET", "/login")
        self.assertEqual(
            headers.get("content-security-policy"), page_headers.get("content-security-policy")
        )

    def test_nginx_ceiling_answers(self):
        status, _, body = pb.request("GET", "/nginx-ceiling")
        self.assertEqual((status, body), (200, b"ok\n"))


if __name__ == "__main__":
    unittest.main()
