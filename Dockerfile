# The demo service (and its load generator) under otelperf, for docker compose.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY otelperf ./otelperf
RUN pip install ".[demo]" && useradd --create-home --uid 10001 app
# In-process sampling needs no extra capability (no SYS_PTRACE): the agent reads its own process.
USER app
EXPOSE 8000
CMD ["opentelemetry-instrument", "uvicorn", "otelperf.demo.app:app", "--host", "0.0.0.0", "--port", "8000"]
