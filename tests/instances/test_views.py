"""Instance pages and the operator's gateway servers: rendering, actions, roles and company isolation."""

from __future__ import annotations

import pytest
from django.test import Client

from instances.models import GatewayServer, Instance, InstanceState, InstanceStateChange
from instances.tasks import connect_instance
from tenants import realtime
from tenants.models import Role
from tests.factories import make_contact, make_member, make_user
from tests.instances.conftest import create_instance
from tests.simulator.fixtures import free_port

pytestmark = pytest.mark.django_db


def url(company, instance=None, action: str = "") -> str:
    path = f"/c/{company.slug}/instances/" + (f"{instance.public_id}/" if instance else "")
    return path + (f"{action}/" if action else "")


def refreshed(instance: Instance) -> Instance:
    return Instance.all_companies.get(pk=instance.pk)


def test_list_shows_cards_with_live_badges(client_a, company_a, instance_a, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = client_a.get(url(company_a))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="instance-{instance_a.public_id.hex}-card"' in html
    assert 'data-live-topic="instances"' in html and 'data-state="created"' in html
    assert 'data-testid="instance-create-form"' in html
    cards = client_a.get(url(company_a) + "?fragment=cards").content.decode()
    assert cards.strip().startswith('<div id="instance-cards"') and "<html" not in cards


def test_agents_see_the_list_without_the_create_form(agent_client_a, company_a, instance_a):
    html = agent_client_a.get(url(company_a)).content.decode()
    assert "instance-card" in html and "instance-create-form" not in html
    assert agent_client_a.post(url(company_a, action="new"), {"name": "x"}).status_code == 403
    for action in ("connect", "restart", "logout", "rename", "delete"):
        assert agent_client_a.post(url(company_a, instance_a, action)).status_code == 403, action
    assert refreshed(instance_a).state == InstanceState.CREATED


def test_create_redirects_to_the_detail_page(client_a, company_a, gateway_server, simulator):
    response = client_a.post(url(company_a, action="new"), {"name": "sales", "label": "Vendas"})
    instance = Instance.all_companies.get()
    assert response.status_code == 302 and response["Location"] == url(company_a, instance)
    detail = client_a.get(response["Location"]).content.decode()
    assert "Vendas" in detail and 'data-live-topic="instance"' in detail
    assert f'data-live-id="{instance.public_id}"' in detail


def test_a_company_given_a_former_slug_of_another_creates_its_instances(client_a, company_a, instance_a, simulator):
    """Instances are "<company slug>_<name>" on the gateway. Once company A's slug changed and a new company took
    the old one, its "sales" met A's on the server: it was refused with "You already have an instance named
    “sales”", which it did not have (nothing of A's was touched, and A's instance keeps working)."""
    from tenants import services as tenant_services

    tenant_services.company_update(company=company_a, name=company_a.name, slug="alpha-sa",
                                   max_instances=company_a.max_instances, max_members=company_a.max_members)
    newcomer = tenant_services.company_create(name="Alpha Bakery", slug="alpha")
    client = Client()
    client.force_login(make_member(company=newcomer, role=Role.OWNER, email="owner@bakery.test").user,
                       backend="tenants.backends.UsernameOrEmailBackend")
    response = client.post(url(newcomer, action="new"), {"name": "sales"})
    created = Instance.all_companies.get(company=newcomer)
    assert response.status_code == 302 and response["Location"] == url(newcomer, created)
    assert created.name == "sales" and created.gateway_name.startswith("alpha_sales_")
    assert {created.gateway_name, "alpha_sales"} <= {row["name"] for row in simulator.control("GET", "instances")}
    assert refreshed(instance_a).gateway_name == "alpha_sales" and refreshed(instance_a).company == company_a
    assert client.get(url(newcomer, instance_a)).status_code == 404  # A's stays A's
    response = client.post(url(newcomer, action="new"), {"name": "sales"})
    assert response.status_code == 400 and "already have an instance named" in response.content.decode()


@pytest.mark.parametrize(("name", "message"), [("sales", "already"), ("Bad Name", "lowercase")])
def test_create_errors_are_shown_on_the_form(client_a, company_a, instance_a, name, message):
    response = client_a.post(url(company_a, action="new"), {"name": name})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Instance.all_companies.count() == 1


def test_connect_shows_generating_then_the_qr_pushed_live(client_a, company_a, instance_a, simulator, listener,
                                                          django_capture_on_commit_callbacks):
    listener.join(company_a, realtime.topic_for("instance", instance_a.public_id))
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_a.post(url(company_a, instance_a, "connect"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="qr-waiting"' in html and "data-countdown-until" in html
    # list, detail, state (the inbox threads') and navigation pushes, the instance.state event for integrators and
    # the connect task, all after commit
    assert len(callbacks) == 6
    with django_capture_on_commit_callbacks(execute=True):
        connect_instance.apply(args=[company_a.pk, instance_a.pk, ""])
    pushed = "".join(listener.drain())
    assert 'data-testid="qr-image"' in pushed and 'hx-swap-oob="true"' in pushed
    assert refreshed(instance_a).qr_data_url in pushed


@pytest.mark.parametrize("number", ["abc", "12", ""])
def test_a_pairing_code_for_a_number_that_is_not_one_is_refused_and_the_qr_in_progress_stays(
        client_a, client_b, company_a, instance_a, number, django_capture_on_commit_callbacks):
    """The QR is on screen (connecting); a bad number in the pairing form is a form error on the page, in the
    person's language, and the connection, its QR and its history are left alone: no task, no state change."""
    Instance.all_companies.filter(pk=instance_a.pk).update(state="connecting", qr_code="2@qr", qr_count=1)
    changes = InstanceStateChange.all_companies.filter(instance=instance_a).count()
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_a.post(url(company_a, instance_a, "connect"), {"number": number},
                                 HTTP_ACCEPT_LANGUAGE="pt-br")
    html = response.content.decode()
    assert response.status_code == 400 and 'data-testid="pairing-form"' in html
    expected = ("Este campo é obrigatório." if not number
                else "Digite o número de telefone com código do país e DDD, apenas dígitos.")
    assert expected in html, html[html.find('data-testid="pairing-form"'):][:1500]
    instance = refreshed(instance_a)
    assert (instance.state, instance.qr_code, instance.qr_count) == ("connecting", "2@qr", 1)
    assert InstanceStateChange.all_companies.filter(instance=instance_a).count() == changes and callbacks == []
    # Company B cannot reach A's instance, with or without a number.
    assert client_b.post(url(company_a, instance_a, "connect"), {"number": "5511988887777"}).status_code == 404
    assert refreshed(instance_a).state == "connecting"


def test_connect_with_the_gateway_down_shows_unreachable(client_a, company_a, instance_a, simulator):
    client_a.post(url(company_a, instance_a, "connect"))
    GatewayServer.objects.update(base_url=f"http://127.0.0.1:{free_port()}")
    connect_instance.apply(args=[company_a.pk, instance_a.pk, ""])
    html = client_a.get(url(company_a, instance_a) + "?fragment=live").content.decode()
    assert 'data-state="unreachable"' in html


def test_why_the_worker_could_not_connect_reads_in_each_persons_language(client_a, client_b, company_a, instance_a,
                                                                         simulator):
    """The worker wrote the reason with no reader's language; the page shows it in the reader's own."""
    GatewayServer.objects.update(base_url=f"http://127.0.0.1:{free_port()}")
    connect_instance.apply(args=[company_a.pk, instance_a.pk, ""])
    assert refreshed(instance_a).state_reason.startswith("The gateway did not answer: ")
    portuguese = client_a.get(url(company_a, instance_a), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "O gateway não respondeu: " in portuguese and "The gateway did not answer" not in portuguese
    assert "The gateway did not answer: " in client_a.get(url(company_a, instance_a),
                                                         HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert client_b.get(url(company_a, instance_a), HTTP_ACCEPT_LANGUAGE="pt-br").status_code == 404


def test_open_state_shows_connected_as_and_no_qr(client_a, company_a, instance_a):
    Instance.all_companies.filter(pk=instance_a.pk).update(state="open", phone_number="5511988887777")
    html = client_a.get(url(company_a, instance_a) + "?fragment=live").content.decode()
    assert "Connected as +5511988887777" in html and "connect-dialog" not in html


def test_the_connect_actions_follow_the_live_state_hidden_while_open(client_a, client_b, company_a, instance_a):
    """The QR and pairing-code forms sit in .connect-actions, which recado.css hides while the live section (the
    part pushed on every state change) says the phone is connected; the browser test checks they really hide."""
    Instance.all_companies.filter(pk=instance_a.pk).update(state="open", phone_number="5511988887777")
    html = client_a.get(url(company_a, instance_a)).content.decode()
    actions = html.split('class="connect-actions"')[1].split("</div>")[0]
    assert 'data-testid="connect"' in actions and 'data-testid="pairing-form"' in actions
    assert html.count('data-testid="connect"') == 1 and html.count('data-testid="pairing-form"') == 1
    assert 'data-testid="connected-note"' in html
    assert 'data-instance-state="open"' in client_a.get(url(company_a, instance_a) + "?fragment=live").content.decode()
    assert client_b.get(url(company_a, instance_a)).status_code == 404


def test_expired_qr_offers_try_again(client_a, company_a, instance_a):
    Instance.all_companies.filter(pk=instance_a.pk).update(state="close", state_reason="qr_expired")
    html = client_a.get(url(company_a, instance_a) + "?fragment=live").content.decode()
    assert 'data-testid="try-again"' in html and "hx-post" in html


def test_logout_restart_rename_and_delete_with_confirmation(client_a, company_a, instance_a, simulator):
    assert client_a.post(url(company_a, instance_a, "logout")).status_code == 302
    assert refreshed(instance_a).state == InstanceState.CLOSE
    assert client_a.post(url(company_a, instance_a, "restart")).status_code == 302
    client_a.post(url(company_a, instance_a, "rename"), {"label": "Atendimento"})
    assert refreshed(instance_a).label == "Atendimento"
    confirm = client_a.get(url(company_a, instance_a, "delete"))
    assert confirm.status_code == 200 and 'data-testid="confirm-delete"' in confirm.content.decode()
    assert Instance.all_companies.exists()
    response = client_a.post(url(company_a, instance_a, "delete"))
    assert response.status_code == 302 and not Instance.all_companies.exists()


def test_delete_with_the_gateway_down_tells_the_user_and_keeps_it(client_a, company_a, instance_a, simulator):
    GatewayServer.objects.update(base_url=f"http://127.0.0.1:{free_port()}")
    response = client_a.post(url(company_a, instance_a, "delete"))
    assert response.status_code == 503 and 'data-testid="delete-error"' in response.content.decode()
    assert Instance.all_companies.filter(pk=instance_a.pk).exists()


def test_another_company_gets_404_everywhere_and_nothing_changes(client_b, company_a, instance_a, simulator, listener,
                                                                 django_capture_on_commit_callbacks):
    listener.join(company_a, "instances").join(company_a, realtime.topic_for("instance", instance_a.public_id))
    before = Instance.all_companies.filter(pk=instance_a.pk).values().get()
    paths = [url(company_a), url(company_a, action="new"), url(company_a, instance_a)] + [
        url(company_a, instance_a, action) for action in ("connect", "restart", "logout", "rename", "delete")]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for path in paths:
            assert client_b.get(path).status_code == 404, path
            assert client_b.post(path, {"label": "x", "name": "y"}).status_code == 404, path
    assert callbacks == []
    assert Instance.all_companies.filter(pk=instance_a.pk).values().get() == before
    assert listener.drain() == []


def test_own_company_url_with_a_foreign_instance_id_is_404(client_b, company_b, instance_a):
    assert client_b.get(url(company_b, instance_a)).status_code == 404
    assert client_b.post(url(company_b, instance_a, "logout")).status_code == 404
    assert refreshed(instance_a).state == InstanceState.CREATED


# --- operator: gateway servers ------------------------------------------------------------------------


@pytest.fixture
def operator_client() -> Client:
    client = Client()
    client.force_login(make_user(email="root@recado.test", is_staff=True),
                       backend="tenants.backends.UsernameOrEmailBackend")
    return client


def test_operator_adds_tests_edits_and_disables_a_server(operator_client, simulator, company_a):
    response = operator_client.post("/operator/servers/new/", {
        "name": "sim", "base_url": simulator.base_url, "version": "v2", "api_key": simulator.api_key,
        "capacity": 10, "enabled": "on"})
    assert response.status_code == 302
    server = GatewayServer.objects.get()
    assert server.api_key == simulator.api_key and server.enabled
    operator_client.post(f"/operator/servers/{server.public_id}/test/")
    server.refresh_from_db()
    assert server.last_check_ok is True and "evolution_simulator" in server.last_check_message
    create_instance(company_a, "sales")
    page = operator_client.get("/operator/servers/").content.decode()
    assert 'data-testid="server-count">1 / 10' in page and "/hooks/evolution/server/" in page
    operator_client.post(f"/operator/servers/{server.public_id}/", {
        "name": "sim", "base_url": simulator.base_url, "version": "v2", "api_key": "", "capacity": 20,
        "enabled": "on"})
    server.refresh_from_db()
    assert server.capacity == 20 and server.api_key == simulator.api_key  # empty key keeps the stored one
    operator_client.post(f"/operator/servers/{server.public_id}/toggle/")
    server.refresh_from_db()
    assert not server.enabled


def test_test_connection_reports_a_wrong_key(operator_client, simulator):
    from instances import services

    server = services.gateway_server_create(name="sim", base_url=simulator.base_url, version="v2", api_key="wrong",
                                            capacity=5)
    operator_client.post(f"/operator/servers/{server.public_id}/test/")
    server.refresh_from_db()
    assert server.last_check_ok is False and "Unauthorized" in server.last_check_message


def test_operator_pages_are_404_for_everyone_else(client_a, gateway_server):
    for path in ("/operator/servers/", "/operator/servers/new/", f"/operator/servers/{gateway_server.public_id}/"):
        assert client_a.get(path).status_code == 404
    assert client_a.post(f"/operator/servers/{gateway_server.public_id}/toggle/").status_code == 404
    gateway_server.refresh_from_db()
    assert gateway_server.enabled


def test_navigation_badge_counts_instances_needing_attention_live(client_a, company_a, instance_a, simulator,
                                                                  listener, django_capture_on_commit_callbacks):
    page = client_a.get(url(company_a)).content.decode()
    assert 'id="nav-instances-badge"' in page and 'data-live-topic="instances_nav"' in page
    badge = client_a.get(url(company_a) + "?fragment=nav-badge").content.decode()
    assert "nav-instances-attention" not in badge and 'hx-trigger="recado:resync"' in badge
    listener.join(company_a, "instances_nav")
    from instances import services
    from tenants.scoping import company_scope

    with company_scope(company_a), django_capture_on_commit_callbacks(execute=True):
        services.instance_logout(company=company_a, instance=instance_a)
    pushed = "".join(listener.drain())
    assert 'id="nav-instances-badge"' in pushed and 'hx-swap-oob="true"' in pushed
    assert 'data-testid="nav-instances-attention"' in pushed and ">1</span>" in pushed


def test_disconnecting_asks_first(client_a, company_a, instance_a):
    """Linking the number again needs the phone in someone's hand: the form carries the question recado.js asks."""
    html = client_a.get(url(company_a, instance_a)).content.decode()
    assert f'action="{url(company_a, instance_a, "logout")}" data-confirm="Disconnect this WhatsApp number?' in html


def test_on_a_phone_the_connection_card_comes_before_the_bot_setup(client_a, company_a, instance_a):
    """Columns stack in page order on a narrow screen: connecting must not wait below the bot platforms' form."""
    html = client_a.get(url(company_a, instance_a)).content.decode()
    assert html.index('data-testid="instance-live"') < html.index('data-testid="connect"') < html.index(
        'data-testid="bot-platforms"')


def test_the_delete_confirmation_says_what_else_goes(client_a, company_a, instance_a):
    """Contacts and conversations belong to the number and are deleted with it: the page must say so, counted."""
    make_contact(company=company_a, instance=instance_a, identifier="5511987654321", name="Ana")
    make_contact(company=company_a, instance=instance_a, identifier="5521999998888", name="Bia")
    html = client_a.get(url(company_a, instance_a, "delete")).content.decode()
    assert 'data-testid="delete-impact"' in html and "2 contacts, with their tags" in html
    assert "conversation" not in html  # none to lose: not listed


def test_a_servers_last_check_reads_in_each_operators_language(operator_client, simulator):
    """The check's result was stored in the language of whoever clicked, and shown so to every operator."""
    from instances import services

    server = services.gateway_server_create(name="sim", base_url=simulator.base_url, version="v2",
                                            api_key=simulator.api_key, capacity=5)
    portuguese = Client()
    portuguese.force_login(make_user(email="ops@recado.test", is_staff=True, language="pt-br"),
                           backend="tenants.backends.UsernameOrEmailBackend")
    portuguese.post(f"/operator/servers/{server.public_id}/test/")
    english_page = operator_client.get("/operator/servers/").content.decode()
    assert "Connected: evolution_simulator" in english_page and "Conectado" not in english_page
    assert "Conectado: evolution_simulator" in portuguese.get("/operator/servers/").content.decode()


def test_restarting_a_disconnected_number_says_why_it_cannot(client_a, company_a, instance_a, simulator):
    """Evolution answers such a restart with 200 and the message "[object Object]", which was shown as is."""
    response = client_a.post(url(company_a, instance_a, "restart"), follow=True)
    html = response.content.decode()
    assert "[object Object]" not in html
    assert "This number is not connected, so there is no session to restart" in html


def test_the_pairing_code_is_shown_as_whatsapp_writes_it(client_a, client_b, company_a, instance_a, simulator):
    """ABCD-EFGH, as the phone's "Link with phone number" screen shows it; company B's owner sees no page."""
    from instances import services
    from tenants.scoping import company_scope

    with company_scope(company_a):
        instance = services.instance_connect(company=company_a, instance=instance_a, number="+55 11 99999-0000")
    code = instance.pairing_code
    assert len(code) == 8 and "-" not in code
    html = client_a.get(url(company_a, instance)).content.decode()
    assert f'data-testid="pairing-code">{code[:4]}-{code[4:]}</p>' in html
    assert client_b.get(url(company_a, instance)).status_code == 404
