"""Static files for the site runbolt serves: ``STATIC_ROOT`` from Rust once collected
(``serving``), the compressed manifest storage (``storage``), Django's finders in DEBUG
before anything is collected (``finders``)."""
