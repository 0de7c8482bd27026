"""The CRI streaming server: exec, attach and port forward sessions on loopback (kubelet's protocols).

``server.py`` listens and upgrades; ``spdy.py`` is SPDY/3.1 framing sans-IO and ``spdy_link.py``
its socket loop; ``websocket_channels.py`` the WebSocket channel framing (wsproto);
``remotecommand.py`` and ``portforward.py`` what the channels carry; ``sessions.py`` connects a
session to the engine; ``protocol.py`` and ``requests.py`` are the data.
"""
