"""Every request that touches data runs in one transaction carrying the
row-security context; it commits only when the handler succeeds."""

import json
import unittest
import uuid

import pb

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def count(body):
    return pb.get_json("/test/tx-count?body=" + body)["count"]


def post(mode, body):
    return pb.request("POST", "/api/v1/test/tx/" + mode, headers=FORM,
                      body=f"body={body}".encode())[0]


class TransactionTest(unittest.TestCase):
    def setUp(self):
        self.body = uuid.uuid4().hex

    def test_success_commits(self):
        self.assertEqual(post("ok", self.body), 201)
        self.assertEqual(count(self.body), 1)

    def test_handler_failure_rolls_back(self):
        self.assertEqual(post("fail", self.body), 500)
        self.assertEqual(count(self.body), 0)

    def test_refused_input_rolls_back(self):
        self.assertEqual(post("invalid", self.body), 400)
        self.assertEqual(count(self.body), 0)

    def test_failed_statement_rolls_back_earlier_ones(self):
        self.assertEqual(post("sqlerror", self.body), 500)
        self.assertEqual(count(self.body), 0)

    def test_get_cannot_write(self):
        status, _, _ = pb.request("GET", f"/api/v1/test/tx-get/ok?body={self.body}")
        self.assertEqual(status, 500)
        self.assertEqual(count(self.body), 0)

    def test_read_only_ends_do_not_disturb_the_next_request(self):
        for _ in range(20):
            self.assertEqual(pb.get_json("/test/tx-count?body=" + self.body)["count"], 0)
        self.assertEqual(post("ok", self.body), 201)
        self.assertEqual(count(self.body), 1)

    def context(self):
        status, _, body = pb.request("POST", "/api/v1/test/tx-context", headers=FORM, body=b"")
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_statements_share_one_transaction_with_context(self):
        doc = self.context()
        self.assertTrue(doc["same_transaction"])
        self.assertEqual((doc["user_id"], doc["team_id"], doc["role_level"]), ("", "", "0"))

    def test_context_does_not_leak_between_requests(self):
        self.assertNotEqual(self.context()["txid"], self.context()["txid"])

    def test_anonymous_read_carries_no_context(self):
        doc = pb.get_json("/test/tx-context")
        self.assertFalse(doc["user_id"])


if __name__ == "__main__":
    unittest.main()
