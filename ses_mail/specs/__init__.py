"""Pure builders of what SES, Route 53 and IAM expect: DNS records, policies, names, key slots,
SMTP passwords and the service limits. Nothing here imports Pulumi."""
