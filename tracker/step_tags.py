"""A tag on a step that tells the run's executor (pipelines/executor.py) how to schedule it."""

RUNS_ALONE_TAG = "tracker/runs_alone"  # "true": no other step of the run runs beside it
