"""Seed one company with an inbox at scale (default 100k conversations, about 1M messages) in SQL.

Small rows (members, instances, tags) go through the ORM; contacts, their identifiers and tags,
conversations and messages are each one `INSERT … SELECT` over `generate_series` inside PostgreSQL,
so nothing crosses the wire row by row. Every column Django knows is filled: the ones a statement
does not set get the model field's own default, so a new column with a default does not break the
seed. The distribution is deterministic (hashes of row numbers, `setseed` for `random()`):

- 3 instances (60 / 30 / 10 % of contacts), 8 members (owner + 7 agents), 12 tags;
- contacts: 40 first names × 30 surnames, 10 % with a custom name, 1 % groups, 0.5 % ignored;
  a primary identifier each and a 9th-digit variant for 30 %;
- tags: 40 % of contacts carry one of 11 common tags, 10 % a second one, 0.2 % the rare tag "vip";
- conversations (one per contact): 15 % open, 5 % pending, 80 % closed; 30 % unassigned, 10 % the
  owner's, the rest spread over the agents; last activity spread over a year, open ones recent;
- messages: 1 to 25 per conversation (skewed, about 10 on average), 55 % received; sent ones read,
  delivered, sent, failed or deleted; texts from a phrase list with order numbers, 0.1 % mention
  "reembolso"; the newest message is the conversation's preview and time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.db import DatabaseError, connection, transaction

FIRST_NAMES = [
    "Ana", "Bruno", "Carla", "Daniel", "Eduarda", "Felipe", "Gabriela", "Henrique", "Isabela", "João",
    "Karina", "Lucas", "Mariana", "Nicolas", "Olivia", "Pedro", "Quésia", "Rafael", "Sofia", "Thiago",
    "Ursula", "Vitor", "Wesley", "Ximena", "Yasmin", "Zeca", "Beatriz", "Caio", "Débora", "Enzo",
    "Fernanda", "Gustavo", "Helena", "Igor", "Juliana", "Kauê", "Larissa", "Matheus", "Natália", "Otávio",
]
SURNAMES = [
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes",
    "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes", "Vieira", "Barbosa",
    "Rocha", "Dias", "Nascimento", "Andrade", "Moreira", "Nunes", "Marques", "Machado", "Mendes", "Freitas",
]
PHRASES = [
    "Olá, bom dia!", "Boa tarde, tudo bem?", "Qual o horário de funcionamento?", "Vocês entregam no meu bairro?",
    "Quero fazer um pedido", "Pode me mandar o cardápio?", "Quanto fica a entrega?", "Obrigado!",
    "Seu pedido saiu para entrega.", "Seu pedido foi confirmado.", "Aceitam pix?", "Pode ser no cartão?",
    "Chegou certinho, obrigada", "Tem desconto para retirada?", "Ainda não recebi meu pedido",
    "O entregador já está a caminho.", "Perfeito, aguardo", "Vou verificar e já te respondo",
    "Qual o valor total?", "Tem sem lactose?", "Pode trocar o endereço de entrega?", "Beleza, combinado",
    "Estamos fechados hoje, voltamos amanhã às 8h.", "Pode cancelar, por favor", "Muito bom, recomendo!",
    "Segue o comprovante", "Ok", "👍", "Bom dia! Posso ajudar?", "Até mais!",
]
COMMON_TAGS = ["cliente", "atacado", "varejo", "novo", "recorrente", "reclamação", "entrega", "retirada",
               "pix", "cartão", "fidelidade"]
RARE_TAG = "vip"
AGENTS = 7
INSTANCE_SHARES = (60, 30, 10)  # percent of contacts per instance
RARE_WORD = "reembolso"


@dataclass
class InboxSeed:
    """What was seeded, with the ids the benchmark needs to build its requests."""

    conversations: int
    messages: int
    contacts: int
    instances: list[str] = field(default_factory=list)  # public ids, biggest first
    tags: dict[str, str] = field(default_factory=dict)   # name → public id
    agents: list[str] = field(default_factory=list)      # user public ids
    number_fragment: str = ""                              # the last 7 digits of one contact's number
    seconds: dict[str, float] = field(default_factory=dict)


def _sql_list(values: list[str]) -> str:
    """A PostgreSQL text[] literal written as ARRAY['…', …] (constants of this module only)."""
    return "ARRAY[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]::text[]"


def _insert_select(cursor, model, values: dict[str, str], source: str, params: tuple = ()) -> int:
    """INSERT INTO the model's table every concrete column but the id: `values` gives SQL expressions by
    column; any other column gets its field's default as a parameter (so it is one value for every row).
    Returns the number of rows inserted."""
    columns, selects, defaults = [], [], []
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key:
            continue
        columns.append(connection.ops.quote_name(model_field.column))
        if model_field.column in values:
            selects.append(values[model_field.column])
        else:
            if model_field.unique:
                raise ValueError(f"{model.__name__}.{model_field.name} is unique: give it an expression")
            selects.append("%s")
            defaults.append(model_field.get_db_prep_save(model_field.get_default(), connection))
    unknown = set(values) - {model_field.column for model_field in model._meta.concrete_fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
    sql = (f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({', '.join(columns)}) "
           f"SELECT {', '.join(selects)} {source}")
    cursor.execute(sql, (*defaults, *params))
    return cursor.rowcount


# Messages per conversation, from the contact id: 1 to 28, skewed towards few (about 10 on average).
def _message_count(contact_id: str) -> str:
    return f"(1 + floor(24 * power(mod({contact_id} * 2654435761, 1000003) / 1000003.0, 1.5)))::int"


def _phrase(conversation_key: str, position: str) -> str:
    """The text of message `position` of a conversation: mostly a phrase, sometimes an order number, rarely
    the rare word (so searches have common, rare and absent terms to look for)."""
    phrases = _sql_list(PHRASES)
    mix = f"mod({conversation_key} * 31 + {position} * 7919, 1000)"
    return (f"CASE WHEN {mix} = 999 THEN 'Quero o {RARE_WORD} do pedido ' || ({conversation_key} * 7 + {position}) "
            f"WHEN {mix} < 120 THEN 'Pedido ' || ({conversation_key} * 7 + {position}) || ' confirmado' "
            f"ELSE ({phrases})[1 + mod({conversation_key} * 13 + {position} * 17, {len(PHRASES)})] END")


def _drop_secondary_indexes(cursor, tables: list[str]) -> list[str]:
    """Drop the indexes of `tables` that back no constraint (primary keys and unique constraints stay);
    returns their definitions, to create them again after the load."""
    cursor.execute("""SELECT i.indexname, i.indexdef FROM pg_indexes i
                      WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
                        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""", [tables])
    found = cursor.fetchall()
    for name, _definition in found:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    return [definition for _name, definition in found]


def skip_foreign_key_checks(cursor) -> bool:
    """In this transaction, do not fire the foreign-key triggers (needs a superuser; the bench's local server
    has one). Safe here: every generated row takes its parent ids from the parent rows themselves."""
    try:
        with transaction.atomic():
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:  # not a superuser: the checks simply run at commit
        return False
    return True


def seed_inbox(*, company, owner, conversations: int = 100_000, server=None) -> InboxSeed:
    """Seed `company` (which must have no contacts yet) with `conversations` conversations and their messages."""
    from django.contrib.auth import get_user_model

    from contacts.models import Contact, ContactIdentifier, ContactTag, Tag
    from instances.models import GatewayServer, Instance
    from messaging.models import STATUS_RANK, Conversation, Message
    from tenants import services as tenant_services
    from tenants.models import Role
    from tenants.scoping import company_scope

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with company_scope(company):
        agents = []
        for number in range(1, AGENTS + 1):
            user = get_user_model().objects.create_user(
                username=f"agent{number}@{company.slug}.bench", email=f"agent{number}@{company.slug}.bench",
                password=None, first_name=f"Agent {number}")
            agents.append(tenant_services.member_add(company=company, user=user, role=Role.AGENT).user)
        if server is None:
            server = GatewayServer.objects.create(name=f"inbox-bench-{company.pk}", base_url="http://127.0.0.1:9",
                                                  api_key="unused", hook_secret="unused",
                                                  hook_secret_hash=f"inbox-bench-{company.pk}")
        instances = [
            Instance.objects.create(company=company, server=server, name=f"line-{number}", label=f"Line {number}",
                                    gateway_name=f"{company.slug}_line-{number}", token="unused",
                                    webhook_secret_hash=f"inbox-bench-{company.pk}-{number}", state="open")
            for number in range(1, len(INSTANCE_SHARES) + 1)
        ]
        tags = [Tag.objects.create(company=company, name=name) for name in [*COMMON_TAGS, RARE_TAG]]
    seconds["small_rows"] = time.perf_counter() - started

    n = conversations
    instance_ids = [instance.pk for instance in instances]
    # Contact number i (1…n) → instance by share.
    first, second = n * INSTANCE_SHARES[0] // 100, n * (INSTANCE_SHARES[0] + INSTANCE_SHARES[1]) // 100
    instance_of = (f"CASE WHEN i <= {first} THEN {instance_ids[0]} WHEN i <= {second} THEN {instance_ids[1]} "
                   f"ELSE {instance_ids[2]} END")
    assignees = [owner.pk] + [agent.pk for agent in agents]
    assignee_array = "ARRAY[" + ", ".join(str(pk) for pk in assignees) + "]::bigint[]"
    company_id = company.pk
    tables = [model._meta.db_table for model in (Contact, ContactIdentifier, ContactTag, Conversation, Message)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cursor.execute("SELECT setseed(0.6)")
        # Bulk load: secondary indexes are built once at the end (much faster than maintained row by row), and
        # the foreign keys of rows generated from their parents are not re-checked one by one at commit.
        step = time.perf_counter()
        dropped = _drop_secondary_indexes(cursor, tables)
        skip_foreign_key_checks(cursor)
        seconds["drop_indexes"] = time.perf_counter() - step

        step = time.perf_counter()
        names = f"({_sql_list(FIRST_NAMES)})[1 + mod(i, {len(FIRST_NAMES)})] || ' ' || " \
                f"({_sql_list(SURNAMES)})[1 + mod(i / {len(FIRST_NAMES)}, {len(SURNAMES)})]"
        is_group = "mod(i, 100) = 42"
        contacts = _insert_select(cursor, Contact, {
            "company_id": str(company_id), "instance_id": instance_of, "public_id": "gen_random_uuid()",
            "identifier": f"CASE WHEN {is_group} THEN '1203630' || lpad(i::text, 9, '0') || '@g.us' "
                          f"ELSE '55119' || lpad(i::text, 8, '0') END",
            "type": f"CASE WHEN {is_group} THEN 'group' ELSE 'individual' END",
            "name": f"CASE WHEN {is_group} THEN 'Grupo ' || i ELSE {names} END",
            "custom_name": "CASE WHEN mod(i, 10) = 3 THEN 'Cliente ' || i ELSE '' END",
            "is_ignored": "mod(i, 200) = 7",
            "created_at": "now() - (n - i) * interval '5 minutes'", "updated_at": "now()",
        }, f"FROM generate_series(1, {n}) AS i, (SELECT {n} AS n) AS total")
        identifiers = _insert_select(cursor, ContactIdentifier, {
            "company_id": str(company_id), "instance_id": "c.instance_id", "contact_id": "c.id",
            "public_id": "gen_random_uuid()", "identifier": "c.identifier",
            "kind": "CASE WHEN c.type = 'group' THEN 'group' ELSE 'primary' END", "created_at": "c.created_at",
        }, "FROM contacts_contact c WHERE c.company_id = %s", (company_id,))
        identifiers += _insert_select(cursor, ContactIdentifier, {
            "company_id": str(company_id), "instance_id": "c.instance_id", "contact_id": "c.id",
            "public_id": "gen_random_uuid()", "identifier": "'5511' || substr(c.identifier, 6)",
            "kind": "'phone_variant'", "created_at": "c.created_at",
        }, "FROM contacts_contact c WHERE c.company_id = %s AND c.type = 'individual' AND mod(c.id, 10) < 3",
            (company_id,))
        seconds["contacts"] = time.perf_counter() - step

        step = time.perf_counter()
        common = "ARRAY[" + ", ".join(str(tag.pk) for tag in tags[:-1]) + "]::bigint[]"
        tag_links = _insert_select(cursor, ContactTag, {
            "company_id": str(company_id), "contact_id": "c.id", "tag_id": "t.tag_id", "created_at": "c.created_at",
        }, f"""FROM contacts_contact c
               CROSS JOIN LATERAL (
                   SELECT ({common})[1 + mod(c.id * 7, {len(tags) - 1})] AS tag_id WHERE mod(c.id, 10) < 4
                   UNION ALL
                   SELECT ({common})[1 + mod(c.id * 7 + 5, {len(tags) - 1})] WHERE mod(c.id, 10) = 1
                   UNION ALL
                   SELECT {tags[-1].pk} WHERE mod(c.id * 7919, 500) = 11
               ) AS t
               WHERE c.company_id = %s""", (company_id,))
        seconds["tags"] = time.perf_counter() - step

        step = time.perf_counter()
        count = _message_count("c.id")
        # Closed conversations spread over a year; open and pending ones over the last week.
        status = "CASE WHEN c.is_ignored OR mod(c.id * 17, 100) >= 20 THEN 'closed' " \
                 "WHEN mod(c.id * 17, 100) < 15 THEN 'open' ELSE 'pending' END"
        conversation_rows = _insert_select(cursor, Conversation, {
            "company_id": str(company_id), "public_id": "gen_random_uuid()", "instance_id": "c.instance_id",
            "contact_id": "c.id", "status": "s.status",
            "assignee_id": f"CASE WHEN mod(c.id * 13, 10) < 3 THEN NULL "
                           f"ELSE ({assignee_array})[1 + mod(c.id * 29, {len(assignees)})] END",
            "priority": "CASE mod(c.id, 20) WHEN 0 THEN 'urgent' WHEN 1 THEN 'high' WHEN 2 THEN 'medium' "
                        "WHEN 3 THEN 'low' ELSE 'none' END",
            "last_message_at": "s.last_at", "last_message_preview": f"left({_phrase('c.id', count)}, 200)",
            "unread_count": "CASE WHEN s.status = 'open' AND mod(c.id, 3) = 0 THEN 1 + mod(c.id, 4) ELSE 0 END",
            "created_at": f"s.last_at - ({count} * interval '11 minutes')",
            "closed_at": "CASE WHEN s.status = 'closed' THEN s.last_at + interval '1 hour' END",
        }, f"""FROM contacts_contact c
               CROSS JOIN LATERAL (SELECT {status} AS status) AS st
               CROSS JOIN LATERAL (
                   SELECT st.status,
                          CASE WHEN st.status = 'closed' THEN now() - random() * interval '365 days'
                               ELSE now() - random() * interval '7 days' END AS last_at
               ) AS s
               WHERE c.company_id = %s""", (company_id,))
        seconds["conversations"] = time.perf_counter() - step

        step = time.perf_counter()
        direction_in = "mod(v.id * 7 + j * 3, 20) < 11"
        out_status = "CASE WHEN mod(v.id + j, 100) < 60 THEN 'read' WHEN mod(v.id + j, 100) < 85 THEN 'delivered' " \
                     "WHEN mod(v.id + j, 100) < 97 THEN 'sent' WHEN mod(v.id + j, 100) < 99 THEN 'failed' " \
                     "ELSE 'deleted' END"
        rank = "CASE m.status " + " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in STATUS_RANK.items()) \
               + " END"
        messages = _insert_select(cursor, Message, {
            "company_id": str(company_id), "public_id": "gen_random_uuid()", "conversation_id": "m.conversation_id",
            "instance_id": "m.instance_id", "direction": "m.direction",
            "gateway_message_id": "CASE WHEN m.status = 'failed' THEN NULL "
                                  "ELSE 'BENCH' || m.conversation_id || 'X' || m.j END",
            "remote_jid": "m.remote_jid", "kind": "'text'", "text": "m.text",
            "sender_type": "CASE WHEN m.direction = 'in' THEN 'customer' WHEN mod(m.j, 10) < 7 THEN 'agent' "
                           "WHEN mod(m.j, 10) < 9 THEN 'api' ELSE 'phone' END",
            "sender_label": "CASE WHEN m.direction = 'out' AND mod(m.j, 10) < 7 THEN 'Agent' ELSE '' END",
            "status": "m.status", "status_rank": rank, "attempts": "CASE WHEN m.direction = 'out' THEN 1 ELSE 0 END",
            "error": "CASE WHEN m.status = 'failed' THEN 'This number is not on WhatsApp.' ELSE '' END",
            "is_deleted": "m.status = 'deleted'", "created_at": "m.created_at",
            "sent_at": "CASE WHEN m.direction = 'out' AND m.status <> 'failed' THEN m.created_at END",
            "delivered_at": "CASE WHEN m.status IN ('delivered', 'read') THEN m.created_at + interval '3 seconds' END",
            "read_at": "CASE WHEN m.status = 'read' THEN m.created_at + interval '1 minute' END",
            "failed_at": "CASE WHEN m.status = 'failed' THEN m.created_at END",
            "deleted_at": "CASE WHEN m.status = 'deleted' THEN m.created_at + interval '2 minutes' END",
        }, f"""FROM (
                 SELECT v.id AS conversation_id, v.instance_id, j,
                        CASE WHEN {direction_in} THEN 'in' ELSE 'out' END AS direction,
                        CASE WHEN {direction_in} THEN 'delivered' ELSE {out_status} END AS status,
                        CASE WHEN ct.type = 'group' THEN ct.identifier
                             ELSE ct.identifier || '@s.whatsapp.net' END AS remote_jid,
                        {_phrase('ct.id', 'j')} AS text,
                        v.last_message_at - ({_message_count('ct.id')} - j) * interval '11 minutes' AS created_at
                 FROM messaging_conversation v
                 JOIN contacts_contact ct ON ct.id = v.contact_id
                 CROSS JOIN LATERAL generate_series(1, {_message_count('ct.id')}) AS j
                 WHERE v.company_id = %s
               ) AS m""", (company_id,))
        seconds["messages"] = time.perf_counter() - step

        step = time.perf_counter()
        for definition in dropped:
            cursor.execute(definition)
        seconds["create_indexes"] = time.perf_counter() - step

    step = time.perf_counter()
    with connection.cursor() as cursor:
        for model in (Contact, ContactIdentifier, ContactTag, Conversation, Message):
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    seconds["vacuum_analyze"] = time.perf_counter() - step
    seconds["total"] = time.perf_counter() - started
    del identifiers, tag_links
    return InboxSeed(
        conversations=conversation_rows, messages=messages, contacts=contacts,
        instances=[str(instance.public_id) for instance in instances],
        tags={tag.name: str(tag.public_id) for tag in tags}, agents=[str(agent.public_id) for agent in agents],
        seconds={key: round(value, 1) for key, value in seconds.items()},
        number_fragment=f"{n // 3:08d}"[-7:],
    )
