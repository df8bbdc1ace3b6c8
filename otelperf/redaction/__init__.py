"""Text that may leave the process, made safe: SQL without literals, URLs and headers without secrets.

``sql`` fingerprints statements (literals out, shape kept, cardinality bounded) and scrubs driver
error messages; ``urls`` redacts credentials in URLs, query strings and headers. Instrumentors use
them where attributes are made, and the sanitizing span processor applies them again before export.
"""
