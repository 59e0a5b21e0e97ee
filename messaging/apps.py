from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self) -> None:
        from messaging.selectors import conversation_exists
        from tenants import realtime

        # "inbox": the company's conversation list; "conversation.<hex>": one thread, resolved inside the company.
        realtime.register_topic("inbox")
        realtime.register_topic("conversation", conversation_exists)
