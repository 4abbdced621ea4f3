"""Static files for the site runbolt serves (``STATIC_URL``)."""
