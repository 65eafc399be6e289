"""Probes observe facts (an HTTP answer, a router's status, a file's digest). They never assert.

Each probe returns a small frozen dataclass whose ``repr`` reads well in a failed assertion, and
every network call has a timeout.
"""
