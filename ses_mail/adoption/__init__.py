"""`ses-mail adopt`: take over an existing SES domain (read the account, write a Pulumi import file)."""
