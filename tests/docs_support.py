"""What the tests that run the docs share: the environment a page's code runs in."""

from __future__ import annotations

import os


def offline_env() -> dict[str, str]:
    """This process's environment without any API key, so an example that would reach
    the real API cannot (tests stay on loopback), whatever the developer's shell holds."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI"))}
