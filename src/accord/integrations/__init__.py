"""Adapters that put accord under other frameworks, each behind its own optional extra.

Nothing here is imported by ``accord`` itself: an integration pulls in its framework
only when the application imports it (``accord.integrations.livekit`` needs
``pip install "accord[livekit]"``).
"""
