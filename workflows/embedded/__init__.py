"""The embedded engine: SpiffWorkflow, its instances' state in the application database (``engine``), and
SpiffWorkflow made to behave like a small Camunda (``spiff``)."""
