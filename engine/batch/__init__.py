"""Many households at once: synthetic households for tests and benchmarks, and batch runs.

    from engine.batch import synthetic
    households = synthetic(100, seed=1)
"""

from engine.batch.synthetic import synthetic

__all__ = ["synthetic"]
