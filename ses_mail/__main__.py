"""`python -m ses_mail ...` is the `ses-mail` command."""
import sys

from ses_mail.cli import main

sys.exit(main())
