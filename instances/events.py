"""Live fragments about instances, published after commit to the company's topics (STYLE rules 19-21)."""

from __future__ import annotations

from uuid import UUID

from instances.models import Instance
from instances.selectors import instance_attention_count, instance_timeline
from tenants import realtime
from tenants.models import Company

LIST_TOPIC = "instances"
DETAIL_TOPIC = "instance"
NAV_TOPIC = "instances_nav"  # every page's navigation badge (a separate topic: pages without the list get no cards)
STATE_TOPIC = "instance_state"  # one instance's state alone: the inbox threads of its conversations


def _nav_badge(company: Company) -> None:
    realtime.publish(company=company, topic=NAV_TOPIC, template_name="instances/list.html#nav-badge",
                     context={"company": company, "attention": instance_attention_count(company=company)})


def instance_changed(*, company: Company, instance: Instance, created: bool = False) -> None:
    """The list card (appended when new) and the detail page's live region of one instance."""
    context = {"company": company, "instance": instance}
    card = "instances/list.html#instance-card-new" if created else "instances/list.html#instance-card"
    realtime.publish(company=company, topic=LIST_TOPIC, template_name=card, context=context)
    realtime.publish(
        company=company, topic=realtime.topic_for(DETAIL_TOPIC, instance.public_id),
        template_name="instances/detail.html#instance-live",
        context={**context, "timeline": instance_timeline(company=company, instance=instance)},
    )
    realtime.publish(company=company, topic=realtime.topic_for(STATE_TOPIC, instance.public_id),
                     template_name="instances/_state_signal.html", context=context)
    _nav_badge(company)


def instance_removed(*, company: Company, public_id: UUID) -> None:
    realtime.publish(company=company, topic=LIST_TOPIC, template_name="instances/_removed.html",
                     context={"public_id": public_id, "card": True})
    realtime.publish(company=company, topic=realtime.topic_for(DETAIL_TOPIC, public_id),
                     template_name="instances/_removed.html", context={"public_id": public_id})
    _nav_badge(company)
