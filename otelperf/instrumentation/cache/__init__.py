"""Cache metrics: ``otelperf.cache.operation.duration`` with hit/miss, for Redis and in-process caches.

``_recorder.CacheRecorder`` turns operations into measurements (``otelperf.cache.system``,
``.name``, ``.operation``, ``.result``); ``_results`` says which Redis commands are reads and how
their replies say hit or miss. Redis commands are recorded by ``otelperf.instrumentation.redis``
(with their spans); in-process caches by ``memory.MeteredCache`` and ``memory.metered_lru_cache``.
"""
