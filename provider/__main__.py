"""The `ses-mail` plugin: hosts the SesMail component for Pulumi programs in any language.

Pulumi runs this with the checkout's `provider/` directory as the plugin; the schema (inputs
and outputs) is derived by the Python SDK from SesMailArgs and SesMail's annotations.
"""
import sys
from pathlib import Path

# The package itself is the checkout this plugin lives in (source-based plugins are cloned whole).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider.experimental import component_provider_host  # noqa: E402

from ses_mail import SesMail  # noqa: E402

NAME = "ses-mail"
COMPONENTS = [SesMail]

if __name__ == "__main__":
    component_provider_host(COMPONENTS, name=NAME, version="0.3.0")
