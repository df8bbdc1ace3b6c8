"""Cache metrics: ``otelperf.cache.operation.duration`` with hit/miss, for Redis and in-process caches.

The cache stage of the instrumentation: ``recorder.CacheRecorder`` turns cache operations into
measurements (``otelperf.cache.system``, ``.name``, ``.operation``, ``.result``); ``results`` says
which Redis commands are reads and how their replies say hit or miss (both are public to the Redis
instrumentation). Redis commands are recorded by ``otelperf.instrumentation.redis`` (with their
spans); in-process caches by ``memory.MeteredCache`` and ``memory.metered_lru_cache``.
"""
