"""pikku-queue-arq: pikku queues and scheduled tasks on arq and Redis.

`ArqQueueService` is the producer (and the app's ``queue`` service); `worker_settings`
builds the arq worker that runs the app's queue and scheduler wirings; the
``pikku-queue-arq worker module:app`` command runs one. `RedisEventHub` carries EventHub
publishes between processes over Redis pub/sub.
"""

from ._cli import main
from ._cron import ArqScheduler, cron_options
from ._events import RedisEventHub
from ._service import DEFAULT_QUEUE_NAME, ArqQueueService
from ._worker import resilient_redis_settings, worker_settings

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_QUEUE_NAME",
    "ArqQueueService",
    "ArqScheduler",
    "RedisEventHub",
    "__version__",
    "cron_options",
    "main",
    "resilient_redis_settings",
    "worker_settings",
]
