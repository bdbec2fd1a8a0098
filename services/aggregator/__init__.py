"""The aggregator service: packs of events applied to the units' figures (engine.py), published
by a Faust worker (app.py, worker.py). Its hot modules run compiled where built (compiled.py)."""

from services.aggregator.compiled import package_path

__path__ = package_path(__path__)
