"""How otelperf lives in the host process: which processes run telemetry, and when it starts and ends.

``roles`` classifies the process from its command line (serves requests, supervises workers, or is
a helper); ``servers`` watches the calls that show what a process does whatever its command line
(starting workers, or serving); ``lifecycle`` starts the pipeline in serving processes (at once, on
standby until the process shows it serves, or in the workers a supervisor forks), pauses it in a
process that turns out to supervise, renews it in a forked child, and flushes it on SIGTERM and at
exit; ``loops`` finds the application's event loops for the stages that watch them; ``heap``
freezes the start-up heap once the server runs. Nothing here knows how the pipeline is built:
``lifecycle`` is handed a factory by the configurator.
"""
