"""What a batch's worker processes need, imported once by the process they are forked from (private).

A local cluster's workers start from multiprocessing's fork server (see
``poolkit.batch._run._start_local``), which imports this module first: papermill,
nbconvert and poolkit's report modules load once for all the workers, and the
report HTML exporter (its templates compiled) is built once, instead of in every
worker before its first report.

Each worker forked from it gets Linux's parent-death signal (SIGKILL): that fork
server exits as soon as the batch process does (killed or not), and its workers
die with it instead of running on unseen.
"""

from __future__ import annotations

import os

from poolkit.reporting._execute import _engine_name, _import_jsonschema_quickly

_import_jsonschema_quickly()  # before papermill and nbconvert, which import jsonschema

import papermill  # noqa: E402, F401

import poolkit.batch._run  # noqa: E402, F401
from poolkit.reporting._html import _html_exporter  # noqa: E402

_engine_name()
_html_exporter()


_SERVER = os.getpid()
_FORKED = False


def _die_with_fork_server() -> None:
    """In a worker just forked: receive SIGKILL when the fork server exits (not in the worker's own children)."""
    global _FORKED
    if _FORKED:
        return
    _FORKED = True
    from poolkit.reporting._forkserver import die_with_parent

    die_with_parent(_SERVER)


os.register_at_fork(after_in_child=_die_with_fork_server)
