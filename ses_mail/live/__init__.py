"""The live account, read-only: `ses-mail doctor` (domains, DNS, SES account) and `ses-mail audit`
(IAM credentials against the roster).

Reading AWS and DNS (clients.py, dns_check.py, the `gather_*` functions of doctor.py and audit.py)
is kept apart from judging what was read (findings.py and the `check_*` functions), which are pure
functions of plain data and tested directly.
"""
