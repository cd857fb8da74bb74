"""A Pulumi program that uses ses-mail as a library: one SesMail component for a roster.

    pip install ses-mail-roster==0.3.0   # or "ses-mail-roster @ git+https://github.com/<owner>/ses-mail@v0.3.0"
    pulumi config set aws:region eu-west-1 && pulumi up
"""
import pulumi

from ses_mail import SesMail

# SMTP users get the account's /ses-mail-boundary/ses-smtp-boundary by default, which the deploy
# role of policies/deploy-role.json requires; `ses-mail:permissionsBoundary` names another, or `none`.
args = {"roster": "roster.yaml"}
boundary = pulumi.Config("ses-mail").get("permissionsBoundary")
if boundary:
    args["permissions_boundary"] = boundary
mail = SesMail("mail", args)

pulumi.export("dns_records", mail.dns_records)
pulumi.export("identities", mail.identities)
pulumi.export("smtp_credentials", mail.smtp_credentials)  # a secret
