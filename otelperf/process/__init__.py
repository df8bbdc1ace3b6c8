"""How otelperf lives in the host process: which processes run telemetry, and when it starts and ends.

``roles`` classifies the process (serves requests, supervises workers, or is a helper);
``lifecycle`` starts the pipeline in serving processes (at once, or in the workers a supervisor
forks), flushes it on SIGTERM and at exit; ``loops`` finds the application's event loops for the
stages that watch them; ``heap`` freezes the start-up heap once the server runs. Nothing here knows
how the pipeline is built: ``lifecycle`` is handed a factory by the configurator.
"""
