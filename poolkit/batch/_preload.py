"""What a batch's worker processes need, imported once by the process they are forked from (private).

A local cluster's workers start from multiprocessing's fork server (see
``poolkit.batch._run._start_local``), which imports this module first: papermill,
nbconvert and poolkit's report modules load once for all the workers, and the
report HTML exporter (its templates compiled) is built once, instead of in every
worker before its first report.
"""

from __future__ import annotations

from poolkit.reporting._execute import _engine_name, _import_jsonschema_quickly

_import_jsonschema_quickly()  # before papermill and nbconvert, which import jsonschema

import papermill  # noqa: E402, F401

import poolkit.batch._run  # noqa: E402, F401
from poolkit.reporting._html import _html_exporter  # noqa: E402

_engine_name()
_html_exporter()
