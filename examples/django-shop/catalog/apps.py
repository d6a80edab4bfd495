from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Connects the post_save and post_delete receivers (cache invalidation, PURGE).
        from . import signals  # noqa: F401
