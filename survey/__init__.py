"""mta-sts-survey: measure MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) adoption at internet scale.

The house, in layers; each package imports only the packages on its row (``LAYERS`` below is the
rule, ``tests/test_layers.py`` enforces it over every import in ``survey/``):

| package | holds | may import |
|---|---|---|
| `survey/core/` | pure: names, exclusions, policy parsers, sender profiles, mistakes, verdict vocabulary, observations, parsed facts, classify, the DANE verdict | stdlib, idna, publicsuffixlist |
| `survey/probes/` | network in, observations out, one contract (`base.py`): DNS (wire codec, client), HTTPS, SMTP, TLS, TLSA, the address guard and rate limiters | core |
| `survey/toplist/` | where a list comes from (files, compression, URLs) and how its rows are read | core |
| `survey/dataset/` | on-disk names, crash-safe writes, the Arrow schema, Parquet parts, the manifest and its option table, publication destinations | core |
| `survey/scan/` | one scan: config (a section per probe), the funnel of questions per domain, the pool, its progress | core, probes, toplist, dataset |
| `survey/runs/` | a session in one process or sharded: worker processes, Dask cluster, object store | core, probes, toplist, dataset, scan |
| `survey/analysis/` | statistics, figures, the HTML report, snapshots (publish) and their comparisons | core, dataset |
| `survey/commands/` | one module per CLI command: parsing and presentation; heavy imports inside ``run()`` | everything |
| `survey/sim/` | the test internet on 127.0.0.0/8 | nothing outside `survey/sim/` |

Top-level modules (``cli``, ``__main__``, ``demo``, ``readme``) are entry points and may import
everything. The modules' old paths (``survey.policy``, ``survey.stats``, ...) keep working: ``MOVED``
maps each to its new home (the same module object; ``survey/<old>.pyi`` tells type checkers).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

__version__ = "0.1.0"

#: Layer → the survey packages its modules may import (besides themselves and ``survey``).
#: ``None``: anything. The table above says the same for readers.
LAYERS: dict[str, tuple[str, ...] | None] = {
    "core": (),
    "probes": ("core",),
    "toplist": ("core",),
    "dataset": ("core",),
    "scan": ("core", "probes", "toplist", "dataset"),
    "runs": ("core", "probes", "toplist", "dataset", "scan"),
    "analysis": ("core", "dataset"),
    "commands": None,
    "sim": (),
}

#: Old module path → new home. ``import survey.policy`` gives ``survey.core.policy`` itself.
MOVED: dict[str, str] = {
    "survey.policy": "survey.core.policy",
    "survey.mistakes": "survey.core.mistakes",
    "survey.observations": "survey.core.observations",
    "survey.verdict": "survey.core.verdict",
    "survey.classify": "survey.core.classify",
    "survey.net": "survey.probes.net",
    "survey.schema": "survey.dataset.schema",
    "survey.sink": "survey.dataset.sink",
    "survey.fsio": "survey.dataset.fsio",
    "survey.progress": "survey.scan.progress",
    "survey.shards": "survey.runs.shards",
    "survey.cluster": "survey.runs.cluster",
    "survey.store": "survey.runs.store",
    "survey.stats": "survey.analysis.stats",
    "survey.charts": "survey.analysis.charts",
    "survey.report": "survey.analysis.report",
    "survey.diff": "survey.analysis.diff",
    "survey.notebooks": "survey.analysis.notebooks",
    "survey.publish": "survey.analysis.publish",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old path to the module at its new home (one object under two names), so that
    the moved files have no stand-ins at their old paths (git then follows every rename)."""

    def find_spec(self, fullname: str, path: object, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: types.ModuleType) -> None:
        """The module ran under its new name already."""


if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
    sys.meta_path.append(_Alias())
