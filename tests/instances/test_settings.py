"""An instance's WhatsApp behaviour settings: the service (gateway first, stored only once accepted), the
simulator's groupsIgnore seen end to end through our hook, the page and the API, each with its company-B case."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from instances import services
from instances.errors import GatewayRejected, GatewayUnavailable, InstanceSettingsInvalid
from instances.gateways import InstanceSettings
from instances.models import Instance
from messaging.models import Message
from tenants import realtime
from tenants.scoping import company_scope
from tests.instances.test_hooks import bodies, hook_path, post, process_pending, refreshed
from tests.threads import run_side_by_side

pytestmark = pytest.mark.django_db

SETTING_FIELDS = ("reject_calls", "call_rejection_message", "ignore_groups", "always_online", "read_messages",
                  "read_status", "sync_full_history")
GROUP = "120363025246125486@g.us"


def stored(instance: Instance) -> dict:
    row = refreshed(instance)
    return {name: getattr(row, name) for name in SETTING_FIELDS}


def on_gateway(simulator, instance: Instance) -> dict:
    return simulator.api("GET", f"/settings/find/{instance.gateway_name}").json()


def update(company, instance, **values) -> Instance:
    with company_scope(company):
        return services.instance_settings_update(company=company, instance=instance, **values)


# --- service ---------------------------------------------------------------------------------------------------


def test_a_new_instance_has_everything_off_here_and_on_the_gateway(instance_a, simulator):
    assert stored(instance_a) == {**dict.fromkeys(SETTING_FIELDS, False), "call_rejection_message": ""}
    assert services.instance_settings(instance_a) == InstanceSettings()
    assert on_gateway(simulator, instance_a)["groupsIgnore"] is False


def test_settings_go_to_the_gateway_then_are_stored_and_pushed_live(company_a, instance_a, simulator, listener,
                                                                   django_capture_on_commit_callbacks):
    listener.join(company_a, realtime.topic_for("instance", instance_a.public_id))
    with django_capture_on_commit_callbacks(execute=True):
        update(company_a, instance_a, reject_calls=True, call_rejection_message="  Só por mensagem, obrigado!\r\n ",
               ignore_groups=True, read_messages=True)
    assert stored(instance_a) == {
        "reject_calls": True, "call_rejection_message": "Só por mensagem, obrigado!", "ignore_groups": True,
        "always_online": False, "read_messages": True, "read_status": False, "sync_full_history": False,
    }
    gateway = on_gateway(simulator, instance_a)
    assert (gateway["rejectCall"], gateway["msgCall"], gateway["groupsIgnore"], gateway["readMessages"]) == (
        True, "Só por mensagem, obrigado!", True, True)
    assert f"instance-{instance_a.public_id.hex}-live" in "".join(listener.drain())
    # Only what is given changes; the message is kept when call rejection is turned off.
    update(company_a, instance_a, reject_calls=False)
    assert stored(instance_a)["call_rejection_message"] == "Só por mensagem, obrigado!"
    assert stored(instance_a)["ignore_groups"] is True
    assert on_gateway(simulator, instance_a)["rejectCall"] is False


def test_a_too_long_message_is_refused_before_the_gateway(company_a, instance_a, simulator):
    with pytest.raises(InstanceSettingsInvalid) as refused:
        update(company_a, instance_a, reject_calls=True, call_rejection_message="x" * 4097)
    assert refused.value.field == "call_rejection_message"
    assert "4096" in refused.value.message
    assert stored(instance_a)["reject_calls"] is False
    assert on_gateway(simulator, instance_a)["rejectCall"] is False
    update(company_a, instance_a, call_rejection_message="x" * 4096)  # the bound itself is fine
    assert len(stored(instance_a)["call_rejection_message"]) == 4096


def test_a_gateway_refusal_leaves_the_stored_settings_unchanged(company_a, instance_a, simulator):
    simulator.fail_next(instance_a.gateway_name, mode="refused", scope="any", message="Settings are locked")
    with pytest.raises(GatewayRejected) as refused:
        update(company_a, instance_a, ignore_groups=True)
    assert "Settings are locked" in refused.value.message
    assert stored(instance_a)["ignore_groups"] is False


def test_an_unreachable_gateway_leaves_the_stored_settings_unchanged(company_a, instance_a, gateway_server):
    gateway_server.base_url = "http://127.0.0.1:9"  # nothing listens there
    gateway_server.save()
    with pytest.raises(GatewayUnavailable):
        update(company_a, instance_a, ignore_groups=True, always_online=True)
    assert stored(instance_a)["ignore_groups"] is False and stored(instance_a)["always_online"] is False


def test_the_stored_settings_go_with_the_create_body(company_a, gateway_server, simulator):
    with company_scope(company_a):
        instance = Instance(company=company_a, server=gateway_server, name="again", gateway_name="company-a_again",
                            token="t" * 32, webhook_secret_hash="h" * 64, ignore_groups=True, reject_calls=True,
                            call_rejection_message="Sem ligações")
        instance.save()
        services._create_on_gateway(instance, "secret")
    found = on_gateway(simulator, instance)
    assert (found["groupsIgnore"], found["rejectCall"], found["msgCall"]) == (True, True, "Sem ligações")


def test_company_b_cannot_change_company_a_settings_through_the_service(company_a, company_b, instance_a, simulator):
    with pytest.raises(Instance.DoesNotExist):
        update(company_b, instance_a, ignore_groups=True)
    assert stored(instance_a)["ignore_groups"] is False
    assert on_gateway(simulator, instance_a)["groupsIgnore"] is False


# --- ignore groups, end to end through the simulator and our hook -----------------------------------------------


def _open(company, instance, simulator) -> None:
    with company_scope(company):
        services.instance_connect(company=company, instance=instance)
    simulator.scan(instance.gateway_name, number="5511977776666", profile_name="Alpha Foods")


def _deliver_everything(simulator, instance, capture) -> None:
    path = hook_path(simulator, instance)
    for body in bodies(simulator, instance):
        post(path, body, capture)
    process_pending(capture)


def _texts(company) -> list[str]:
    with company_scope(company):
        return list(Message.objects.order_by("pk").values_list("text", flat=True))


def test_with_ignore_groups_on_a_group_message_is_never_stored(company_a, instance_a, simulator,
                                                                django_capture_on_commit_callbacks):
    _open(company_a, instance_a, simulator)
    update(company_a, instance_a, ignore_groups=True)
    customer = {"from": "5511955554444", "push_name": "Maria"}
    assert simulator.inbound(instance_a.gateway_name, **customer, group=GROUP, text="bom dia grupo")["dropped"]
    simulator.inbound(instance_a.gateway_name, **customer, text="oi, é a Maria")
    _deliver_everything(simulator, instance_a, django_capture_on_commit_callbacks)
    assert _texts(company_a) == ["oi, é a Maria"]


def test_with_ignore_groups_off_a_group_message_is_stored(company_a, instance_a, simulator,
                                                          django_capture_on_commit_callbacks):
    _open(company_a, instance_a, simulator)
    update(company_a, instance_a, ignore_groups=False, read_messages=True)
    simulator.inbound(instance_a.gateway_name, **{"from": "5511955554444"}, group=GROUP, text="bom dia grupo")
    _deliver_everything(simulator, instance_a, django_capture_on_commit_callbacks)
    assert _texts(company_a) == ["bom dia grupo"]


# --- the instance page -------------------------------------------------------------------------------------------

ALL_ON_FORM = {"reject_calls": "on", "call_rejection_message": "Não atendemos ligações", "ignore_groups": "on",
               "always_online": "on", "read_messages": "on", "read_status": "on", "sync_full_history": "on"}


def page(company, instance, action: str = "") -> str:
    return f"/c/{company.slug}/instances/{instance.public_id}/" + (f"{action}/" if action else "")


def test_admins_see_the_settings_form_with_the_stored_values(client_a, company_a, instance_a):
    update(company_a, instance_a, ignore_groups=True, call_rejection_message="Sem ligações")
    html = client_a.get(page(company_a, instance_a)).content.decode()
    assert 'data-testid="settings-form"' in html
    assert 'name="ignore_groups" id="id_ignore_groups" class="form-check-input" checked' in html
    assert 'aria-describedby="id_ignore_groups-help"' in html
    assert "Sem ligações</textarea>" in html
    # A message kept while calls are not rejected is explained.
    assert 'data-testid="message-not-sent"' in html


def test_an_admin_saves_with_htmx_and_gets_the_section_back(client_a, company_a, instance_a, simulator):
    response = client_a.post(page(company_a, instance_a, "settings"), ALL_ON_FORM, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card mt-3" id="instance-settings"') and "<html" not in html
    assert 'data-testid="settings-saved"' in html
    assert stored(instance_a) == {**dict.fromkeys(SETTING_FIELDS, True),
                                  "call_rejection_message": "Não atendemos ligações"}
    assert on_gateway(simulator, instance_a)["syncFullHistory"] is True
    # Unchecked boxes turn settings off; without htmx the page redirects with a message.
    response = client_a.post(page(company_a, instance_a, "settings"), {"call_rejection_message": ""})
    assert response.status_code == 302 and response["Location"] == page(company_a, instance_a)
    assert "WhatsApp settings saved." in client_a.get(response["Location"]).content.decode()
    assert stored(instance_a) == {**dict.fromkeys(SETTING_FIELDS, False), "call_rejection_message": ""}


def test_bad_input_and_gateway_errors_are_shown_on_the_form(client_a, company_a, instance_a, simulator):
    too_long = {**ALL_ON_FORM, "call_rejection_message": "x" * 4097}
    response = client_a.post(page(company_a, instance_a, "settings"), too_long, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 400
    assert 'aria-invalid="true"' in html and "at most 4096 characters" in html
    assert 'id="id_call_rejection_message-errors"' in html
    assert stored(instance_a)["reject_calls"] is False
    simulator.fail_next(instance_a.gateway_name, mode="server_error", scope="any")
    response = client_a.post(page(company_a, instance_a, "settings"), ALL_ON_FORM, HTTP_HX_REQUEST="true")
    assert response.status_code == 503
    assert 'data-testid="settings-error"' in response.content.decode()
    assert stored(instance_a)["reject_calls"] is False
    simulator.fail_next(instance_a.gateway_name, mode="refused", scope="any", message="No way")
    response = client_a.post(page(company_a, instance_a, "settings"), ALL_ON_FORM)  # no htmx: the whole page
    assert response.status_code == 422
    html = response.content.decode()
    assert "The gateway refused these settings: No way" in html and 'data-testid="instance-title"' in html
    assert stored(instance_a)["reject_calls"] is False


def test_the_section_is_in_portuguese_for_a_portuguese_reader(client_a, owner_a, company_a, instance_a):
    owner_a.language = "pt-br"
    owner_a.save(update_fields=["language"])
    html = client_a.get(page(company_a, instance_a)).content.decode()
    assert "Configurações do WhatsApp" in html and "Rejeitar chamadas" in html and "Ignorar grupos" in html
    response = client_a.post(page(company_a, instance_a, "settings"),
                             {**ALL_ON_FORM, "call_rejection_message": "x" * 4097}, HTTP_HX_REQUEST="true")
    assert "no máximo 4096 caracteres" in response.content.decode()


def test_agents_do_not_see_or_change_the_settings(agent_client_a, company_a, instance_a, simulator):
    html = agent_client_a.get(page(company_a, instance_a)).content.decode()
    assert 'data-testid="instance-settings"' not in html
    response = agent_client_a.post(page(company_a, instance_a, "settings"), ALL_ON_FORM)
    assert response.status_code == 403
    assert stored(instance_a)["ignore_groups"] is False
    assert on_gateway(simulator, instance_a)["groupsIgnore"] is False


def test_company_b_gets_404_and_changes_nothing_on_the_page(client_b, company_a, company_b, instance_a, simulator,
                                                            listener):
    listener.join(company_a, realtime.topic_for("instance", instance_a.public_id))
    for path in (page(company_a, instance_a, "settings"), page(company_b, instance_a, "settings")):
        assert client_b.post(path, ALL_ON_FORM, HTTP_HX_REQUEST="true").status_code == 404, path
    assert client_b.get(page(company_b, instance_a)).status_code == 404
    assert stored(instance_a)["ignore_groups"] is False
    assert on_gateway(simulator, instance_a)["groupsIgnore"] is False
    assert listener.drain() == []


# --- the REST API --------------------------------------------------------------------------------------------------

PROBLEM = "application/problem+json"


def api_url(instance) -> str:
    return f"/api/v1/instances/{instance.public_id}"


def test_get_shows_the_settings(api_a, company_a, instance_a):
    update(company_a, instance_a, read_status=True, call_rejection_message="Só texto")
    body = api_a.get(api_url(instance_a)).json()
    assert body["settings"] == {**dict.fromkeys(SETTING_FIELDS, False), "read_status": True,
                                "call_rejection_message": "Só texto"}
    listed = api_a.get("/api/v1/instances").json()["results"][0]
    assert listed["settings"]["read_status"] is True


def test_patch_changes_only_the_settings_given(api_a, company_a, instance_a, simulator):
    update(company_a, instance_a, always_online=True)
    response = api_a.patch(api_url(instance_a), {"label": "Vendas", "settings": {
        "reject_calls": True, "call_rejection_message": "Ligue não, escreva!"}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["label"] == "Vendas"
    assert response.json()["settings"] == {**dict.fromkeys(SETTING_FIELDS, False), "always_online": True,
                                           "reject_calls": True, "call_rejection_message": "Ligue não, escreva!"}
    gateway = on_gateway(simulator, instance_a)
    assert (gateway["rejectCall"], gateway["msgCall"], gateway["alwaysOnline"]) == (True, "Ligue não, escreva!", True)


@pytest.mark.parametrize(("given", "field"), [
    ({"reject_calls": "perhaps"}, "reject_calls"),
    ({"call_rejection_message": "x" * 4097}, "call_rejection_message"),
    ({"ignore_groups": None}, "ignore_groups"),
])
def test_bad_settings_are_400_naming_the_field(api_a, instance_a, simulator, given, field):
    response = api_a.patch(api_url(instance_a), {"settings": given}, format="json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert field in response.json()["errors"]["settings"]
    assert stored(instance_a) == {**dict.fromkeys(SETTING_FIELDS, False), "call_rejection_message": ""}


def test_a_gateway_refusal_is_422_and_keeps_everything(api_a, instance_a, simulator):
    simulator.fail_next(instance_a.gateway_name, mode="refused", scope="any", message="Nope")
    response = api_a.patch(api_url(instance_a), {"label": "Novo", "settings": {"ignore_groups": True}}, format="json")
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert "Nope" in response.json()["detail"]
    assert refreshed(instance_a).label == "" and stored(instance_a)["ignore_groups"] is False


def test_an_unreachable_gateway_is_503_with_retry_after(api_a, instance_a, gateway_server):
    gateway_server.base_url = "http://127.0.0.1:9"
    gateway_server.save()
    response = api_a.patch(api_url(instance_a), {"settings": {"ignore_groups": True}}, format="json")
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert stored(instance_a)["ignore_groups"] is False


def test_a_read_only_key_may_read_but_not_change_the_settings(company_a, instance_a, simulator):
    from rest_framework.test import APIClient

    from tests.factories import make_api_key

    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(company=company_a, scopes=['read']).secret}")
    assert reader.get(api_url(instance_a)).json()["settings"]["ignore_groups"] is False
    response = reader.patch(api_url(instance_a), {"settings": {"ignore_groups": True}}, format="json")
    assert response.status_code == 403 and response["Content-Type"] == PROBLEM
    assert "write" in response.json()["detail"]
    assert stored(instance_a)["ignore_groups"] is False
    assert on_gateway(simulator, instance_a)["groupsIgnore"] is False


def test_company_b_key_gets_404_and_changes_nothing(api_b, company_a, instance_a, simulator, listener):
    listener.join(company_a, realtime.topic_for("instance", instance_a.public_id))
    assert api_b.get(api_url(instance_a)).status_code == 404
    response = api_b.patch(api_url(instance_a), {"settings": {"ignore_groups": True}}, format="json")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert stored(instance_a)["ignore_groups"] is False
    assert on_gateway(simulator, instance_a)["groupsIgnore"] is False
    assert listener.drain() == []


def test_connect_recreating_a_lost_instance_gives_it_the_stored_settings(company_a, instance_a, simulator):
    update(company_a, instance_a, ignore_groups=True, reject_calls=True, call_rejection_message="Só mensagens")
    simulator.api("DELETE", f"/instance/delete/{instance_a.gateway_name}")  # the gateway lost it
    with company_scope(company_a):
        services.instance_connect(company=company_a, instance=refreshed(instance_a))
    found = on_gateway(simulator, instance_a)
    assert (found["groupsIgnore"], found["rejectCall"], found["msgCall"]) == (True, True, "Só mensagens")


@pytest.mark.django_db(transaction=True)
def test_two_people_saving_at_once_lose_neither_change_and_the_gateway_ends_as_stored(company_a, instance_a,
                                                                                      simulator):
    """Each save sends the gateway the whole set; the gateway's answer takes a second, so both saves read the
    same settings before either is stored. The later one stores its change over the other's and pushes again."""
    simulator.control("POST", f"instances/{instance_a.gateway_name}/latency", {"ms": 700})
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def save(**values) -> None:
        try:
            start.wait()
            update(company_a, instance_a, **values)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=save, kwargs={"reject_calls": True}),
               threading.Thread(target=save, kwargs={"ignore_groups": True})]
    run_side_by_side(threads)
    assert errors == []
    assert (stored(instance_a)["reject_calls"], stored(instance_a)["ignore_groups"]) == (True, True)
    gateway = on_gateway(simulator, instance_a)
    assert (gateway["rejectCall"], gateway["groupsIgnore"]) == (True, True)
    assert refreshed(instance_a).settings_revision == 2
