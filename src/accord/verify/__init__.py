"""The verifier: what judges the runtime and is never imported by it.

- :mod:`~accord.verify.log`: the decisions behind operations (pushes, ops, resolutions,
  tool reports), recorded by whoever drives a session;
- :mod:`~accord.verify.checker`: the invariants of ``docs/architecture.md`` as functions
  over the simulator's store and that log;
- :mod:`~accord.verify.restore`: the one restore judge (invariant 7, lossless reconnect);
- :mod:`~accord.verify.harness` and :mod:`~accord.verify.quiet`: a strategy and the
  store joined by two FIFO channels, moved one event at a time, and driven to quiet;
- :mod:`~accord.verify.audit`: the log built from a live session core;
- :mod:`~accord.verify.replay` and :mod:`~accord.verify.replay_check`: a recorded trace
  replayed byte for byte and judged over the server rebuilt from its frames;
- :mod:`~accord.verify.naive` and :mod:`~accord.verify.strategies`: the strategy that
  exists to be caught, and the registry that names strategies for the tools.

The runtime (``accord``, the session, the engine, the client, the protocol, the agent,
the integrations) never imports this package: a test holds it to that. Nothing is
re-exported here, so importing one judge does not load the others.
"""
