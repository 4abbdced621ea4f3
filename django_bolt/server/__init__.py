"""Who runs a request: the job runner, streams, the Django application, serve, supervisor."""
