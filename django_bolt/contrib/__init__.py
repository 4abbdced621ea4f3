"""The Django side of django_bolt: sessions for API routes, static files,
Django's security headers on API answers, the admin."""
