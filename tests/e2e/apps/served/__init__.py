"""A service started by its own command (``python -m served MODE PORT``), as many real services are.

Its command line names neither uvicorn nor gunicorn: the server is started programmatically, so
otelperf can only tell what each process does from what it does (see ``__main__``).
"""
