"""SMTP passwords: AWS's published vectors, and the program deriving them for the SES region."""
from __future__ import annotations

import base64

import pytest

from ses_mail.specs.smtp_password import smtp_password
from ses_mail.review.emulation import fake_secret_key

# AWS's published examples (secret access key, region) -> SMTP password.
VECTORS = [
    ("some+secret+key", "eu-central-1", "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2"),
    ("another+secret+key", "eu-central-1", "BBbphbrQmrKMx42d1N6+C7VINYEBGI5v9VsZeTxwskfh"),
    ("some+secret+key", "us-west-1", "BH+jbMzper5WwlwUar9E1ySBqHa9whi0GPo+sJ0mVYJj"),
    ("another+secret+key", "us-west-1", "BKVmjjMDFk/qqw8EROW99bjCS65PF8WKvK5bSr4Y6EqF"),
]


@pytest.mark.parametrize("secret,region,expected", VECTORS)
def test_published_vectors(secret, region, expected):
    assert smtp_password(secret, region) == expected


def test_password_is_version_4_and_region_specific():
    raw = base64.b64decode(smtp_password("some+secret+key", "eu-central-1"))
    assert raw[0] == 0x04 and len(raw) == 33  # version byte + HMAC-SHA256
    assert smtp_password("k", "eu-west-1") != smtp_password("k", "eu-west-2")


@pytest.mark.parametrize("secret,region", [("", "eu-west-1"), ("key", "")])
def test_missing_inputs_are_refused(secret, region):
    with pytest.raises(ValueError):
        smtp_password(secret, region)


def test_program_derives_password_for_the_ses_region_not_the_providers(run):
    """With SES in eu-central-1 and the provider in us-east-1, the provider's own
    ses_smtp_password_v4 would be wrong; the program's password is right for SES."""
    result = run(config={"aws:region": "us-east-1", "ses-mail:region": "eu-central-1"}, region=None)
    cred = result.outputs["smtp_credentials"]["taro@test1.com"]
    key = result.named("taro@test1.com-key")
    secret = fake_secret_key("taro@test1.com-key")
    assert cred["username"] == key.id
    assert cred["password"] == smtp_password(secret, "eu-central-1")
    assert cred["password"] != key.outputs["sesSmtpPasswordV4"]  # provider region: us-east-1
    assert cred["host"] == "email-smtp.eu-central-1.amazonaws.com" and cred["port"] == 587
    identity = result.named("test1.com-identity")
    assert identity.inputs["region"] == "eu-central-1"
