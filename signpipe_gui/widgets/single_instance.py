"""One window per user: a second launch hands its archives to the first and exits."""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_MS = 500


def server_name() -> str:
    """The local socket's name, one per user account."""
    return f"signpipe-{getpass.getuser()}"


def hand_over(paths: Sequence[str], name: str | None = None) -> bool:
    """Send ``paths`` to a running window. True when one took them."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    message = json.dumps([str(Path(p).expanduser().absolute()) for p in paths])
    socket.write(message.encode("utf-8"))
    socket.flush()
    socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(CONNECT_TIMEOUT_MS)
    return True


class InstanceServer(QObject):
    """Listens for later launches and reports the paths they hand over."""

    paths_received = Signal(list)

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_server_new_connection)
        self._buffers: dict[QLocalSocket, bytearray] = {}

    def listen(self) -> bool:
        if self._server.listen(self.name):
            return True
        if self._server.serverError() == QAbstractSocket.SocketError.AddressInUseError:
            # A socket file left by a signpipe that crashed: nobody answered on it.
            QLocalServer.removeServer(self.name)
            if self._server.listen(self.name):
                return True
        logger.warning(
            "Single-instance socket unavailable: %s", self._server.errorString()
        )
        return False

    def close(self) -> None:
        self._server.close()

    def _on_server_new_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._buffers[socket] = bytearray()
            socket.readyRead.connect(lambda s=socket: self._on_socket_ready_read(s))
            socket.disconnected.connect(
                lambda s=socket: self._on_socket_disconnected(s)
            )

    def _on_socket_ready_read(self, socket: QLocalSocket) -> None:
        self._buffers.setdefault(socket, bytearray()).extend(
            bytes(socket.readAll().data())
        )

    def _on_socket_disconnected(self, socket: QLocalSocket) -> None:
        self._on_socket_ready_read(socket)
        data = bytes(self._buffers.pop(socket, b""))
        socket.deleteLater()
        try:
            paths = [str(p) for p in json.loads(data.decode("utf-8") or "[]")]
        except (ValueError, TypeError):
            logger.warning("Ignoring a malformed hand-over from a second launch")
            return
        self.paths_received.emit(paths)
