"""The `ses-mail` plugin: hosts the SesMail component for Pulumi programs in any language.

Pulumi runs this with the checkout's `provider/` directory as the plugin; the schema (inputs
and outputs) is derived by the Python SDK from SesMailArgs and SesMail's annotations.
"""
import sys
import tomllib
from pathlib import Path

# The package itself is the checkout this plugin lives in (source-based plugins are cloned whole).
CHECKOUT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CHECKOUT))
#: The plugin's version is the package's, from the checkout's pyproject.toml (one place).
VERSION = tomllib.loads((CHECKOUT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]

from pulumi.provider.experimental import component_provider_host  # noqa: E402

from ses_mail import SesMail  # noqa: E402

NAME = "ses-mail"
COMPONENTS = [SesMail]

if __name__ == "__main__":
    component_provider_host(COMPONENTS, name=NAME, version=VERSION)
