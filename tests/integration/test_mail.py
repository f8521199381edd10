"""The outbox and the host's mailer (src/mailer.c): a queued message reaches
the loopback SMTP server (python3-aiosmtpd), once, with its headers."""

import json
import os
import subprocess
import unittest
import urllib.parse

import pb

PGHOST = os.path.join(pb.VAR, "run", "pg")


def queue(to, subject, text):
    return pb.request("POST", "/api/v1/test/mail",
                      headers={"Content-Type": "application/x-www-form-urlencoded"},
                      body=urllib.parse.urlencode(
                          {"to": to, "subject": subject, "text": text}).encode())


def outbox(to):
    out = subprocess.run(
        ["psql", "-h", PGHOST, "-U", "plugboard_owner", "-d", "plugboard", "-X", "-q", "-At",
         "-c", f"SELECT status, attempts FROM core.outbox WHERE recipient = '{to}'"],
        check=True, capture_output=True, text=True, timeout=30)
    return [line.split("|") for line in out.stdout.split()]


class MailTest(unittest.TestCase):
    def test_a_queued_message_arrives_once_with_its_headers(self):
        to = pb.unique_email("mail")
        status, _, body = queue(to, "Grüße from Plugboard", "line one\nline two\n.\nend")
        self.assertEqual(status, 200, body)
        message = pb.wait_for_mail(to)
        self.assertEqual(str(message["From"]), "plugboard@localhost")
        from email.header import decode_header, make_header
        self.assertEqual(str(make_header(decode_header(message["Subject"]))),
                         "Grüße from Plugboard")
        self.assertTrue(message["Message-ID"].startswith("<outbox-"))
        self.assertEqual(pb.mail_body(message).replace("\r\n", "\n").rstrip("\n"),
                         "line one\nline two\n.\nend")
        pb.wait_until(lambda: outbox(to) == [["sent", "1"]], message="outbox row marked sent")
        self.assertEqual(len([m for m in pb.mailbox() if to in m["To"]]), 1)

    def test_a_recipient_that_is_not_one_address_is_refused(self):
        for to in ("a@b.example, c@d.example", "Name <a@b.example>", "no-at-sign",
                   "a@b.example\r\nBcc: x@y.example"):
            status, _, body = queue(to, "Hello", "text")
            self.assertEqual(status, 400, to)
            self.assertIn("to", json.loads(body)["errors"])
            self.assertEqual(outbox(to), [])

    def test_a_subject_with_a_line_break_is_refused(self):
        status, _, _ = queue(pb.unique_email("hdr"), "Hi\r\nBcc: x@y.example", "text")
        self.assertEqual(status, 400)


if __name__ == "__main__":
    unittest.main()
