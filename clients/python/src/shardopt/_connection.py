"""Channels to the coordinator and the workers, with the same TLS settings and token on every call."""

from __future__ import annotations

import os
import threading
from typing import Dict, List, Optional, Sequence, Tuple

import grpc

# Tensor data travels in chunks of at most 4 MiB; the servers accept messages of 4 MiB + 64 KiB
# (a full chunk and its header), so the client's receive limit is raised to the same.
MAX_MESSAGE_BYTES = (4 << 20) + (64 << 10)
CHANNEL_OPTIONS: List[Tuple[str, int]] = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]
TOKEN_ENV = "SHARDOPT_TOKEN"


def _read(path: Optional[str], field: str) -> Optional[bytes]:
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError("%s: cannot read %r: %s" % (field, path, e.strerror)) from None


class Connection:
    """Makes and keeps the channels; one per address, made on first use, closed by close().

    TLS (the contract of every Shardopt command): ``tls_ca`` the PEM roots that the servers'
    certificates must chain to; ``tls_cert`` and ``tls_key`` (PKCS#8 PEM) this client's certificate
    for servers that require one. Any of them turns TLS on; without them the channels are
    plaintext. ``token``: sent on every call as ``authorization: Bearer <token>``; None reads
    SHARDOPT_TOKEN, and an empty token sends nothing.
    """

    def __init__(self, tls_ca: Optional[str] = None, tls_cert: Optional[str] = None,
                 tls_key: Optional[str] = None, token: Optional[str] = None,
                 tls_server_name: Optional[str] = None) -> None:
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("tls_cert and tls_key go together: got tls_cert=%r, tls_key=%r" % (tls_cert, tls_key))
        if tls_server_name is not None and tls_ca is None and tls_cert is None:
            raise ValueError("tls_server_name=%r needs TLS: give tls_ca (and tls_cert/tls_key)" % tls_server_name)
        self._credentials: Optional[grpc.ChannelCredentials] = None
        if tls_ca is not None or tls_cert is not None:
            self._credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(tls_ca, "tls_ca"), private_key=_read(tls_key, "tls_key"),
                certificate_chain=_read(tls_cert, "tls_cert"))
        self._options = list(CHANNEL_OPTIONS)
        if tls_server_name is not None:
            self._options.append(("grpc.ssl_target_name_override", tls_server_name))
        if token is None:
            token = os.environ.get(TOKEN_ENV, "")
        token = token.strip()
        if "\n" in token or "\r" in token:
            raise ValueError("token must be one line (a bearer token), got %d lines" % len(token.splitlines()))
        self.metadata: Sequence[Tuple[str, str]] = (("authorization", "Bearer " + token),) if token else ()
        self._channels: Dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def tls(self) -> bool:
        return self._credentials is not None

    def channel(self, address: str) -> grpc.Channel:
        """The channel to host:port, made once."""
        with self._lock:
            if self._closed:
                raise ValueError("the connection is closed")
            channel = self._channels.get(address)
            if channel is None:
                if self._credentials is not None:
                    channel = grpc.secure_channel(address, self._credentials, options=self._options)
                else:
                    channel = grpc.insecure_channel(address, options=self._options)
                self._channels[address] = channel
            return channel

    def close(self) -> None:
        """Closes every channel; calls still running end with CANCELLED."""
        with self._lock:
            self._closed = True
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()
