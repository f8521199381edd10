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

    def test_nginx_ceiling_answers(self):
        status, _, body = pb.request("GET", "/nginx-ceiling")
        self.assertEqual((status, body), (200, b"ok\n"))


if __name__ == "__main__":
    unittest.main()
