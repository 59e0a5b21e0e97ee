from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self) -> None:
        from messaging.selectors import conversation_exists
        from tenants import realtime

        # "inbox": the company's conversation list; "conversation.<hex>": one thread, resolved inside the company;
        # "quick_replies": the composer's list of quick replies in every open thread.
        realtime.register_topic("inbox")
        realtime.register_topic("quick_replies")
        realtime.register_topic("conversation", conversation_exists)

        from integrations.bots import bot_changed
        from messaging.events import contact_panel_changed

        # The inbox's contact panel follows the bot's state live, whoever changed it.
        bot_changed.connect(lambda sender, company, contact, **kwargs: contact_panel_changed(
            company=company, contact=contact), weak=False, dispatch_uid="messaging.contact_panel")
