"""``accord stress``: many concurrent full-stack sessions against the simulator, each
judged against the simulator's store at the end.

- :mod:`~accord.stress.config`: the run's options (:class:`StressConfig`);
- :mod:`~accord.stress.workload`: one session's agent, policy and user turns;
- :mod:`~accord.stress.judge`: the checker across reconnects (segments, restores);
- :mod:`~accord.stress.session_run`: one session from connect to verdict (its
  :mod:`~accord.stress.outcome` and its :mod:`~accord.stress.server_side`);
- :mod:`~accord.stress.worker`: a simulator and a share of the sessions on one loop;
- :mod:`~accord.stress.runner`: one worker in-process, or several spawned processes;
- :mod:`~accord.stress.killer`: ``--kill-every``, workers SIGKILLed and their sessions
  resumed from the journal by the others;
- :mod:`~accord.stress.report`: the totals, as a table and as JSON;
- :mod:`~accord.stress.progress`: the live bar while it runs.
"""

from accord.stress.config import StressConfig
from accord.stress.report import StressReport
from accord.stress.runner import run_stress

__all__ = ["StressConfig", "StressReport", "run_stress"]
