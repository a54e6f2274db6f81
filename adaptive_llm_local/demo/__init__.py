"""``make demo``: a real run with failing jobs, diagnosed offline (not part of the library core).

:mod:`.run` drives the demo; :mod:`.learners` holds the learner functions the jobs run
(imported by the job processes, so this package imports nothing heavy).
"""
