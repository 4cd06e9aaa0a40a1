"""pikku-ws: serve pikku channels with the ``websockets`` library, and talk to them.

``serve(app)`` hosts every channel wired with ``app.wire_channel`` on one port (the core
channel runtime does the routing, replies, sessions and pub/sub); ``PikkuChannelClient``
is the matching Python client.
"""

from ._client import ChannelCallError, PikkuChannelClient, TopicCallback
from ._server import channel_request, run, serve

__all__ = [
    "ChannelCallError",
    "PikkuChannelClient",
    "TopicCallback",
    "channel_request",
    "run",
    "serve",
]
