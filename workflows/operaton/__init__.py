"""The Operaton engine: the REST adapter (``engine``), the external-task client workers use (``external_tasks``)
and the wire format both speak (``wire``: typed variables, times, refusals)."""
