"""Sentences stored in English by a process with no reader (tenants/stored_text.py), shown in the reader's language."""

from __future__ import annotations

import pytest
from django.utils import translation

from instances.reasons import GATEWAY_SILENT, reason_label
from integrations.models import RECEIVER_ANSWERED
from messaging.models import MEDIA_NOT_COPIED
from tenants.stored_text import english, sentence, shown


def test_a_stored_sentence_is_english_whatever_language_is_active():
    with translation.override("pt-br"):
        assert english(RECEIVER_ANSWERED, code=502) == "HTTP 502 from the receiver."


def test_a_sentence_with_values_comes_back_translated_with_its_values():
    stored = english(RECEIVER_ANSWERED, code=502)
    with translation.override("pt-br"):
        assert shown(stored) == "HTTP 502 do receptor."
    with translation.override("en"):
        assert shown(stored) == stored


def test_a_value_that_is_itself_a_sentence_of_ours_is_translated_too():
    stored = english(MEDIA_NOT_COPIED, error="the gateway keeps no copy of this message")
    with translation.override("pt-br"):
        assert shown(stored) == ("Não foi possível copiar o arquivo do gateway (o gateway não guarda uma cópia "
                                 "desta mensagem); o link pode expirar.")


def test_fixed_sentences_and_foreign_text_and_empty():
    with translation.override("pt-br"):
        assert shown("Every attempt failed for 24 hours.") == "Todas as tentativas falharam durante 24 horas."
        assert shown("connect ECONNREFUSED 10.0.0.5:8080") == "connect ECONNREFUSED 10.0.0.5:8080"
        assert shown("") == ""
        # Text around a declared sentence is not it: a receiver's words that merely contain ours stay as they came.
        assert shown("proxy: HTTP 502 from the receiver.") == "proxy: HTTP 502 from the receiver."


def test_an_undeclared_sentence_cannot_be_stored():
    with pytest.raises(ValueError, match="declare"):
        english("Never declared %(x)s.", x=1)


def test_a_percent_sign_in_a_declared_sentence_matches_literally():
    msgid = sentence("Disk %(name)s is 100%% full.")
    assert english(msgid, name="a") == "Disk a is 100% full."
    assert shown("Disk b is 100% full.") == "Disk b is 100% full."  # matched, no translation: same text back
    assert shown("Disk b is 100%% full.") == "Disk b is 100%% full."


def test_an_instance_state_reason_written_by_the_worker_reads_in_portuguese():
    with translation.override(None):  # the worker: no reader's language
        stored = translation.gettext(GATEWAY_SILENT) % {"error": "connect timeout"}
    with translation.override("pt-br"):
        assert reason_label(stored) == "O gateway não respondeu: connect timeout"
        assert reason_label("qr_expired") == "O QR code expirou sem ser lido"
