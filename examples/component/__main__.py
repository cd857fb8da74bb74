"""A Pulumi program that uses ses-mail as a library: one SesMail component for a roster.

    pip install "ses-mail @ git+https://github.com/<owner>/ses-mail@v0.3.0"
    pulumi config set aws:region eu-west-1 && pulumi up
"""
import pulumi

from ses_mail import SesMail

mail = SesMail("mail", {"roster": "roster.yaml"})

pulumi.export("dns_records", mail.dns_records)
pulumi.export("identities", mail.identities)
pulumi.export("smtp_credentials", mail.smtp_credentials)  # a secret
