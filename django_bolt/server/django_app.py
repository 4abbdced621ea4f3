"""Every path the Rust router does not own goes to the project's Django application,
through Django's WSGI handler (its middleware, sessions, CSRF, admin...) on a worker
thread: no per-request thread hops, and streamed responses stay streamed."""

from __future__ import annotations

import logging
from typing import Any

from ..contrib.static.finders import serves_from_finders, with_static_files
from ..http.environ import FileWrapper, wsgi_environ

logger = logging.getLogger("django_bolt")


class DjangoApplication:
    """The project's Django application (WSGI) for every path no route owns."""

    def __init__(self, *, multiprocess: bool = False, serve_static: bool | None = None) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        handler: Any = WSGIHandler()
        if serve_static is None:
            serve_static = serves_from_finders()
        if serve_static:
            handler = with_static_files(handler)
        self.handler = handler
        self.multiprocess = multiprocess

    def environ(self, job: Any) -> dict[str, Any]:
        return wsgi_environ(job, multiprocess=self.multiprocess)

    def handle(self, job: Any, streams: Any) -> None:
        """Answers ``job`` with Django's response; a streamed one is fed by ``streams``
        (the StreamPump: it parks rather than hold this thread for a slow client)."""
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started[:] = [status, headers]
            return lambda data: None

        response = self.handler(self.environ(job), start_response)

        def close() -> None:
            # Django's request_finished (and the response's own cleanup) once it is sent.
            closing = getattr(response, "close", None)
            if closing is not None:
                closing()

        fed = False
        try:
            status = int(started[0][:3])
            headers = started[1]
            if (
                not getattr(response, "streaming", False)
                and hasattr(response, "content")
                and not isinstance(response, FileWrapper)
            ):
                job.respond(status, response.content, None, headers)
                return
            writer = job.start_stream(status, headers)
            fed = True
            streams.feed(writer, iter(response), close, f"{job.method} {job.path}")
        finally:
            if not fed:
                close()
