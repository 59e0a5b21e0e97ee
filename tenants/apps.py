from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"

    def ready(self) -> None:
        from tenants import folding  # noqa: F401 (registers the `fold` lookup and SQLite's recado_fold)
        from tenants.prepared import cache_wide_statements

        cache_wide_statements()
