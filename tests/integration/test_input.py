"""Request input through nginx: query, forms, JSON, uploads, caps, typed
accessors, route parameters, cookies and redirects (via tests/modules/testkit)."""

import json
import os
import unittest
import urllib.parse

import pb

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json", "Accept": "application/json"}


def post(path, body, headers):
    return pb.request("POST", path, headers=headers, body=body)


class QueryAndFormTest(unittest.TestCase):
    def test_query_is_decoded(self):
        doc = pb.get_json("/test/echo?q=a%20b+c%C3%A9")
        self.assertEqual(doc["q"], "a b cé")

    def test_urlencoded_form_is_decoded(self):
        status, _, body = post("/test/echo", b"f=x%26y&other=1", FORM)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["f"], "x&y")

    def test_malformed_escape_is_a_400_with_a_message(self):
        status, _, body = pb.request("GET", "/api/v1/test/echo?q=%zz")
        self.assertEqual(status, 400)
        self.assertIn("%", json.loads(body)["error"]["message"])

    def test_field_over_value_max_is_413(self):
        status, _, body = post("/api/v1/test/echo", b"f=" + b"x" * (70 * 1024), FORM)
        self.assertEqual(status, 413)
        self.assertTrue(json.loads(body)["error"]["message"])

    def test_too_many_fields_is_413(self):
        body = "&".join(f"k{i}=v" for i in range(300)).encode()
        status, _, _ = post("/api/v1/test/echo", body, FORM)
        self.assertEqual(status, 413)

    def test_body_over_nginx_limit_is_refused(self):
        status, _, _ = post("/test/echo", b"f=" + b"x" * (11 * 1024 * 1024), FORM)
        self.assertEqual(status, 413)

    def test_unsupported_body_type_is_415(self):
        status, _, body = post("/api/v1/test/echo", b"hello", {"Content-Type": "text/plain"})
        self.assertEqual(status, 415)
        self.assertIn("application/json", json.loads(body)["error"]["message"])


class JsonBodyTest(unittest.TestCase):
    def test_json_body_reaches_the_handler(self):
        status, _, body = post("/test/echo", b'{"a": [1, 2, {"b": null}]}', JSON)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["json"], {"a": [1, 2, {"b": None}]})

    def test_malformed_json_is_a_400(self):
        status, _, body = post("/test/echo", b'{"a": ', JSON)
        self.assertEqual(status, 400)
        self.assertIn("error", json.loads(body))

    def test_duplicate_keys_are_refused(self):
        status, _, _ = post("/test/echo", b'{"a": 1, "a": 2}', JSON)
        self.assertEqual(status, 400)


class UploadTest(unittest.TestCase):
    def multipart(self, parts, boundary="PbBoundary7d3f"):
        out = b""
        for name, filename, data in parts:
            disp = f'form-data; name="{name}"'
            if filename is not None:
                disp += f'; filename="{filename}"'
            out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n".encode()
            if filename is not None:
                out += b"Content-Type: application/octet-stream\r\n"
            out += b"\r\n" + data + b"\r\n"
        out += f"--{boundary}--\r\n".encode()
        return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}

    def test_upload_is_streamed_to_disk_and_removed_after(self):
        data = bytes(range(256)) * 4096  # 1 MiB, every byte value
        body, headers = self.multipart([("f", None, b"field"), ("file", "../../etc/x.bin", data)])
        status, _, resp = post("/test/echo", body, headers)
        self.assertEqual(status, 200, resp[:300])
        doc = json.loads(resp)
        self.assertEqual(doc["f"], "field")
        self.assertEqual(doc["file"]["size"], len(data))
        self.assertEqual(doc["file"]["filename"], "x.bin")  # RFC 7578 §4.2: no path
        expect = 0
        for b in data:
            expect = (expect * 31 + b) & 0xFFFFFFFFFFFFFFFF
        self.assertEqual(doc["file"]["hash"], expect & 0xFFFFFFFF)
        leftovers = [f for f in os.listdir(os.path.join(pb.VAR, "tmp")) if not f.startswith("pbm")]
        self.assertEqual(leftovers, [])

    def test_truncated_multipart_is_a_400(self):
        body, headers = self.multipart([("f", None, b"x")])
        status, _, _ = post("/api/v1/test/echo", body[:-10], headers)
        self.assertEqual(status, 400)

    def test_multipart_without_boundary_is_a_400(self):
        status, _, _ = post("/api/v1/test/echo", b"--x--\r\n", {"Content-Type": "multipart/form-data"})
        self.assertEqual(status, 400)


class TypedInputTest(unittest.TestCase):
    def test_valid_values_are_typed(self):
        body = json.dumps({"title": "Q3 plan", "n": "42", "flag": "on", "day": "2024-02-29",
                           "id": "0E4A0F1C-3B6D-4C5E-9F00-1A2B3C4D5E6F", "email": "Ann@Example.COM"})
        status, _, resp = post("/test/typed", body.encode(), JSON)
        self.assertEqual(status, 200, resp)
        v = json.loads(resp)["values"]
        self.assertEqual((v["title"], v["n"], v["flag"], v["day"]), ("Q3 plan", 42, True, "2024-02-29"))
        self.assertEqual(v["id"], "0e4a0f1c-3b6d-4c5e-9f00-1a2b3c4d5e6f")
        self.assertEqual(v["email"], "Ann@example.com")

    def test_each_bad_field_gets_its_own_error(self):
        body = urllib.parse.urlencode({"n": "101", "day": "2023-02-29", "email": "nope", "id": "x"})
        status, _, resp = post("/api/v1/test/typed", body.encode(), FORM)
        self.assertEqual(status, 400)
        errors = json.loads(resp)["errors"]
        self.assertEqual(set(errors), {"title", "n", "day", "email", "id"})
        self.assertIn("required", errors["title"])
        self.assertIn("100", errors["n"])

    def test_form_is_shown_again_with_errors_beside_fields(self):
        status, headers, resp = post("/test/typed", b"title=&n=abc", FORM)
        self.assertEqual(status, 400)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        html = resp.decode()
        self.assertIn('aria-invalid="true"', html)
        self.assertIn('id="n-error"', html)


class RoutingInputTest(unittest.TestCase):
    def test_route_params_are_percent_decoded(self):
        doc = pb.get_json("/test/params/a%2Fb/%C3%A9")
        self.assertEqual((doc["a"], doc["b"]), ("a/b", "é"))

    def test_literal_segment_wins_over_param(self):
        doc = pb.get_json("/test/params/fixed/x")
        self.assertIsNone(doc["a"])
        self.assertEqual(doc["b"], "x")

    def test_cookies_are_parsed(self):
        doc = pb.get_json("/test/echo", headers={"Cookie": 'a=1; c="hello"; broken; d=2'})
        self.assertEqual(doc["c"], "hello")

    def test_set_cookie_is_httponly_lax_and_unsafe_values_refused(self):
        status, headers, body = pb.request("GET", "/test/cookie")
        self.assertEqual(status, 200)
        cookie = headers["set-cookie"]
        self.assertIn("flavour=oat; Path=/; HttpOnly; SameSite=Lax", cookie)
        doc = json.loads(body)
        self.assertEqual((doc["good"], doc["bad_value"], doc["bad_header"]), (0, -1, -1))
        self.assertEqual(headers["x-test"], "ok")
        self.assertNotIn("injected", headers)

    def test_local_redirect_is_303(self):
        status, headers, _ = pb.request("GET", "/test/redirect?to=/healthz")
        self.assertEqual((status, headers["location"]), (303, "/healthz"))

    def test_offsite_redirect_is_refused(self):
        for target in ("//evil.example", "https://evil.example", "/\\evil.example"):
            status, headers, _ = pb.request("GET", "/test/redirect?to=" + urllib.parse.quote(target))
            self.assertEqual(status, 400, target)
            self.assertNotIn("location", headers)


if __name__ == "__main__":
    unittest.main()
