"""Django sessions for API routes (``request.session``), saved as SessionMiddleware would."""
