"""Probes observe the stack: one module per subject (``gonogo/probes/<subject>.py``), each returning facts
(:class:`gonogo.fact.Fact`) and never asserting.

What the profile says about a subject is its section, :mod:`gonogo.sections.<subject>`; which probe
``stack.<name>`` gives is the registry, :mod:`gonogo.subjects`. A probe module imports its client library
(docker-py, psycopg, redis-py...) through :mod:`gonogo.lazy`, so importing it costs nothing until a probe
talks to its component.
"""
