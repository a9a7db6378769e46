"""Standard Webhooks signatures: the specification's published example, and verification."""

from __future__ import annotations

from praxis.interop import signing

# The example of the Standard Webhooks specification and its reference libraries.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'


def test_matches_the_specification_example() -> None:
    assert signing.sign(SECRET, MSG_ID, TIMESTAMP, BODY) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_verify_accepts_any_listed_signature_and_refuses_tampering() -> None:
    other = signing.new_secret()
    header = f"{signing.sign(other, MSG_ID, TIMESTAMP, BODY)} {signing.sign(SECRET, MSG_ID, TIMESTAMP, BODY)}"
    assert signing.verify(SECRET, MSG_ID, TIMESTAMP, BODY, header)
    assert not signing.verify(SECRET, MSG_ID, TIMESTAMP + 1, BODY, header)
    assert not signing.verify(SECRET, "msg_other", TIMESTAMP, BODY, header)
    assert not signing.verify(SECRET, MSG_ID, TIMESTAMP, BODY + b" ", header)
