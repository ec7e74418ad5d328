"""I/O backends behind the capability seams: the only modules that talk to real servers.

A capability module (:mod:`reference_host.capabilities`) decides *whether* a guest request may
run; a backend decides nothing and only runs it.  Each backend is small, has a fast twin or a
swappable transport for unit tests, imports its driver lazily where it can (the host stays
importable without the optional extras), and leaves error translation to one boundary.

``http``
    the ``http-client`` backend (httpx; tests swap the transport).
``memory``
    the in-memory twin of the Redis backend of ``key-value``.
``postgres``
    the ``database`` backend (psycopg 3 on PostgreSQL) and its seam protocols;
    ``pip install 'flowctl-conformance[postgres]'``.
``redis``
    the ``key-value`` backend (redis-py on Redis, one budget-bounded connection);
    ``pip install 'flowctl-conformance[redis]'``.
"""

from __future__ import annotations
