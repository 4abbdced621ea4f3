from django.apps import AppConfig


class DjangoBoltConfig(AppConfig):
    name = "django_bolt"
    verbose_name = "Django Bolt"

    def ready(self) -> None:
        # Registers the system checks of BOLT settings and the API (manage.py check).
        from .management import checks  # noqa: F401
        from .testing.databases import use_test_databases

        use_test_databases()
