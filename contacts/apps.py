from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"

    def ready(self) -> None:
        from contacts.selectors import contact_import_exists
        from tenants import realtime

        # "contact_import.<hex>": the progress bar of one CSV import.
        realtime.register_topic("contact_import", contact_import_exists)
