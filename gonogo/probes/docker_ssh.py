"""docker-py's SSH transport, bounded: imported only for an ``ssh://`` engine (paramiko is heavy)."""

from __future__ import annotations

from pathlib import Path

import paramiko
from docker.transport import SSHHTTPAdapter


class BoundedSSHAdapter(SSHHTTPAdapter):  # type: ignore[misc]  # docker-py is untyped
    """docker-py's paramiko transport with every step bounded by ``timeout`` (TCP connect, SSH banner,
    authentication, channel open) and, when given, a private key and a known_hosts file. Host keys are
    always checked: an unknown host is refused (paramiko's RejectPolicy, as docker-py sets it)."""

    def __init__(self, base_url: str, timeout: float, key: Path | None = None, known_hosts: Path | None = None) -> None:
        self._bound, self._key, self._known_hosts = timeout, key, known_hosts
        try:
            super().__init__(base_url, timeout=timeout, max_pool_size=2)  # connects
        except BaseException:
            if getattr(self, "ssh_client", None) is not None:
                self.ssh_client.close()  # a refused login leaves paramiko's transport open otherwise
            raise

    def _create_paramiko_client(self, base_url: str) -> None:
        super()._create_paramiko_client(base_url)
        bound = self._bound
        self.ssh_params.update(timeout=bound, banner_timeout=bound, auth_timeout=bound, channel_timeout=bound)
        if self._key is not None:
            self.ssh_params.update(key_filename=str(self._key), look_for_keys=False, allow_agent=False)
        if self._known_hosts is not None:
            self.ssh_client.load_host_keys(str(self._known_hosts))
        self.ssh_client.set_missing_host_key_policy(paramiko.RejectPolicy())
