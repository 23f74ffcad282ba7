"""The asyncio side of a Realtime session: transport, wire bridge, generations, recording.

:class:`accord.session.RealtimeSession` is the facade; these modules are its parts.
"""
