from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "instances"

    def ready(self) -> None:
        from instances.selectors import instance_exists
        from tenants import realtime

        # "instances": the company's list (cards); "instances_nav": the navigation badge on every page;
        # "instance.<hex>": one instance's detail page and QR.
        realtime.register_topic("instances")
        realtime.register_topic("instances_nav")
        realtime.register_topic("instance", instance_exists)
        # "instance_state.<hex>": one instance's state alone (the inbox thread of one of its conversations).
        realtime.register_topic("instance_state", instance_exists)
