"""The Django side of django_bolt: sessions for API routes, static files, the admin."""
