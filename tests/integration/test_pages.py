"""Pages and their API twins: layout, JSON, HEAD, errors, headers."""

import json
import unittest

import pb


class HomePageTest(unittest.TestCase):
    def test_home_is_a_page_in_the_layout(self):
        status, headers, body = pb.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        html = body.decode()
        self.assertIn("<!doctype html>", html)
        self.assertIn('href="/static/css/app.css"', html)
        self.assertIn("Installed modules", html)
        self.assertIn("<td>system</td>", html)
        self.assertIn('aria-current="page"', html)

    def test_same_handler_answers_json_under_api(self):
        doc = pb.get_json("/api/v1/")
        names = [m["name"] for m in doc["modules"]]
        self.assertIn("system", names)
        system = next(m for m in doc["modules"] if m["name"] == "system")
        self.assertEqual(system["route_count"], len(system["routes"]))

    def test_accept_json_gets_the_view_model(self):
        status, headers, body = pb.request("GET", "/", headers={"Accept": "application/json"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertIn("modules", json.loads(body))

    def test_head_has_headers_but_no_body(self):
        _, get_headers, get_body = pb.request("GET", "/")
        status, headers, body = pb.request("HEAD", "/")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertEqual(int(headers["content-length"]), len(get_body))

    def test_security_headers_on_every_response(self):
        for path in ("/", "/healthz", "/no/such/page"):
            _, headers, _ = pb.request("GET", path)
            csp = headers.get("content-security-policy", "")
            self.assertIn("script-src 'self'", csp, path)
            self.assertIn("frame-ancestors 'none'", csp, path)
            self.assertNotIn("unsafe-inline", csp, path)
            self.assertEqual(headers.get("x-frame-options"), "DENY", path)
            self.assertEqual(headers.get("x-content-type-options"), "nosniff", path)
            self.assertIn("referrer-policy", headers, path)


class ErrorsTest(unittest.TestCase):
    def test_unknown_path_is_a_404_page_in_the_layout(self):
        status, _, body = pb.request("GET", "/no/such/page")
        self.assertEqual(status, 404)
        html = body.decode()
        self.assertIn("Not Found", html)
        self.assertIn('class="topbar"', html)

    def test_unknown_api_path_is_a_json_404(self):
        status, _, body = pb.request("GET", "/api/v1/no/such/thing")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["error"]["status"], 404)

    def test_wrong_method_is_405_with_allow(self):
        status, headers, _ = pb.request("POST", "/healthz", body=b"",
                                        headers={"Content-Type": "application/json"})
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "GET, HEAD")

    def test_trailing_slash_redirects_to_the_page(self):
        status, headers, _ = pb.request("GET", "/healthz/")
        self.assertEqual(status, 308)
        self.assertEqual(headers["location"], "/healthz")

    def test_handler_failure_is_a_500_page(self):
        status, _, body = pb.request("GET", "/test/fail")
        self.assertEqual(status, 500)
        self.assertIn("Internal Server Error", body.decode())

    def test_template_output_is_escaped(self):
        status, _, body = pb.request("GET", "/test/escape")
        self.assertEqual(status, 200)
        html = body.decode()
        self.assertIn("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;", html)
        self.assertNotIn("<script>alert", html)


class OperatorPagesTest(unittest.TestCase):
    def test_healthz_checks_postgres_and_redis(self):
        doc = pb.get_json("/healthz")
        self.assertEqual(doc["status"], "ok")
        self.assertTrue(doc["checks"]["postgres"]["ok"])
        self.assertTrue(doc["checks"]["redis"]["ok"])
        self.assertGreater(doc["checks"]["postgres"]["us"], 0)

    def test_status_page_shows_workers(self):
        status, _, body = pb.request("GET", "/status")
        self.assertEqual(status, 200)
        self.assertIn("Process status", body.decode())
        doc = pb.get_json("/status")
        self.assertGreaterEqual(len(doc["workers"]["list"]), 1)
        self.assertIn("GET /", [r["route"] for r in doc["routes"]])

    def test_status_is_not_mirrored_under_api(self):
        status, _, _ = pb.request("GET", "/api/v1/status")
        self.assertEqual(status, 404)

    def test_metrics_in_prometheus_format(self):
        pb.request("GET", "/")
        status, headers, body = pb.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
        text = body.decode()
        self.assertRegex(text, r'plugboard_requests_total\{route="GET /",module="system",status="2xx"\} \d+')
        self.assertIn('plugboard_request_duration_seconds_bucket{route="GET /",module="system",le="+Inf"}', text)
        self.assertRegex(text, r'plugboard_workers\{state="idle"\} \d+')
        self.assertIn("plugboard_uptime_seconds", text)


if __name__ == "__main__":
    unittest.main()
