"""Pulumi entry point: the stack's roster becomes SES identities, DNS records and SMTP users."""
from ses_mail.program import build

build()
