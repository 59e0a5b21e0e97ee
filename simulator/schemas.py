"""The request schemas of the v2 routes the simulator serves (a subset of Evolution's src/validate)."""

from __future__ import annotations

WEBHOOK_EVENTS = (
    "APPLICATION_STARTUP",
    "QRCODE_UPDATED",
    "MESSAGES_SET",
    "MESSAGES_UPSERT",
    "MESSAGES_EDITED",
    "MESSAGES_UPDATE",
    "MESSAGES_DELETE",
    "SEND_MESSAGE",
    "SEND_MESSAGE_UPDATE",
    "CONTACTS_SET",
    "CONTACTS_UPSERT",
    "CONTACTS_UPDATE",
    "PRESENCE_UPDATE",
    "CHATS_SET",
    "CHATS_UPSERT",
    "CHATS_UPDATE",
    "CHATS_DELETE",
    "GROUPS_UPSERT",
    "GROUP_UPDATE",
    "GROUP_PARTICIPANTS_UPDATE",
    "CONNECTION_UPDATE",
    "LABELS_EDIT",
    "LABELS_ASSOCIATION",
    "CALL",
    "TYPEBOT_START",
    "TYPEBOT_CHANGE_STATUS",
    "REMOVE_INSTANCE",
    "LOGOUT_INSTANCE",
    "INSTANCE_CREATE",
    "INSTANCE_DELETE",
    "STATUS_INSTANCE",
)
INTEGRATIONS = ("WHATSAPP-BAILEYS", "WHATSAPP-BUSINESS", "EVOLUTION")
PRESENCES = ("available", "unavailable", "composing", "recording", "paused")

STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}
NUMBER_FIELD = {"type": "string"}
OPTIONS = {
    "delay": {"type": "integer"},
    "quoted": {"type": "object", "properties": {"key": {"type": "object", "required": ["id"]}}},
    "linkPreview": BOOLEAN,
    "mentionsEveryOne": BOOLEAN,
    "mentioned": {"type": "array", "items": STRING},
}

WEBHOOK_OBJECT = {
    "type": "object",
    "properties": {
        "enabled": BOOLEAN,
        "url": STRING,
        "headers": {"type": "object"},
        "byEvents": BOOLEAN,
        "base64": BOOLEAN,
        "events": {"type": "array", "items": {"type": "string", "enum": list(WEBHOOK_EVENTS)}},
    },
    "required": ["enabled", "url"],
}

CREATE = {
    "properties": {
        "instanceName": STRING,
        "token": STRING,
        "number": {"type": "string", "pattern": r"^\d+[\.@\w-]+"},
        "qrcode": BOOLEAN,
        "webhook": {**WEBHOOK_OBJECT, "required": ["url"]},
    },
}
# src/validate/settings.schema.ts: the six booleans are required; msgCall and wavoipToken are optional strings.
SETTINGS_SET = {
    "properties": {
        "rejectCall": BOOLEAN,
        "msgCall": STRING,
        "groupsIgnore": BOOLEAN,
        "alwaysOnline": BOOLEAN,
        "readMessages": BOOLEAN,
        "readStatus": BOOLEAN,
        "syncFullHistory": BOOLEAN,
        "wavoipToken": STRING,
    },
    "required": ["rejectCall", "groupsIgnore", "alwaysOnline", "readMessages", "readStatus", "syncFullHistory"],
}
WEBHOOK_SET = {"properties": {"webhook": WEBHOOK_OBJECT}, "required": ["webhook"]}
PRESENCE = {"properties": {"presence": {"type": "string", "enum": list(PRESENCES)}}, "required": ["presence"]}

SEND_TEXT = {"properties": {"number": NUMBER_FIELD, "text": STRING, **OPTIONS}, "required": ["number", "text"]}
SEND_MEDIA = {
    "properties": {
        "number": NUMBER_FIELD,
        "mediatype": {"type": "string", "enum": ["image", "document", "video", "audio", "ptv"]},
        "media": STRING,
        "mimetype": STRING,
        "caption": STRING,
        "fileName": STRING,
        **OPTIONS,
    },
    "required": ["number", "mediatype"],
}
SEND_AUDIO = {
    "properties": {"number": NUMBER_FIELD, "audio": STRING, "delay": {"type": "integer"}},
    "required": ["number"],
}
SEND_STICKER = {"properties": {"number": NUMBER_FIELD, "sticker": STRING, **OPTIONS}, "required": ["number"]}
SEND_LOCATION = {
    "properties": {
        "number": NUMBER_FIELD,
        "latitude": {"type": "number"},
        "longitude": {"type": "number"},
        "name": STRING,
        "address": STRING,
        **OPTIONS,
    },
    "required": ["number", "latitude", "longitude", "name", "address"],
}
CONTACT_ITEM = {
    "type": "object",
    "properties": {
        "fullName": STRING,
        "phoneNumber": {"type": "string", "minLength": 10},
        "wuid": {"type": "string", "minLength": 10},
    },
    "required": ["fullName", "phoneNumber"],
}
SEND_CONTACT = {
    "properties": {"number": NUMBER_FIELD, "contact": {"type": "array", "minItems": 1, "items": CONTACT_ITEM}},
    "required": ["number", "contact"],
}
MESSAGE_KEY = {
    "type": "object",
    "properties": {"id": STRING, "remoteJid": STRING, "fromMe": BOOLEAN},
    "required": ["id", "remoteJid", "fromMe"],
}
SEND_REACTION = {"properties": {"key": MESSAGE_KEY, "reaction": STRING}, "required": ["key", "reaction"]}
LIST_ROW = {"type": "object", "properties": {"title": STRING, "rowId": STRING}, "required": ["title", "rowId"]}
LIST_SECTION = {
    "type": "object",
    "properties": {"title": STRING, "rows": {"type": "array", "minItems": 1, "items": LIST_ROW}},
    "required": ["title", "rows"],
}
SEND_LIST = {
    "properties": {
        "number": NUMBER_FIELD,
        "title": STRING,
        "description": STRING,
        "footerText": STRING,
        "buttonText": STRING,
        "sections": {"type": "array", "minItems": 1, "items": LIST_SECTION},
        **OPTIONS,
    },
    "required": ["number", "title", "footerText", "buttonText", "sections"],
}
BUTTON = {
    "type": "object",
    "properties": {"type": {"type": "string", "enum": ["reply", "copy", "url", "call", "pix"]}},
    "required": ["type"],
}
SEND_BUTTONS = {
    "properties": {
        "number": NUMBER_FIELD,
        "title": STRING,
        "description": STRING,
        "footer": STRING,
        "buttons": {"type": "array", "minItems": 1, "items": BUTTON},
        **OPTIONS,
    },
    "required": ["number", "title", "buttons"],
}
WHATSAPP_NUMBERS = {
    "properties": {"numbers": {"type": "array", "minItems": 1, "items": STRING}},
    "required": ["numbers"],
}
DELETE_MESSAGE = {
    "properties": {"id": STRING, "remoteJid": STRING, "fromMe": BOOLEAN, "participant": STRING},
    "required": ["id", "remoteJid", "fromMe"],
}
PROFILE_PICTURE = {"properties": {"number": NUMBER_FIELD}, "required": ["number"]}
MEDIA_BASE64 = {"properties": {"message": {"type": "object"}, "convertToMp4": BOOLEAN}, "required": ["message"]}
# Evolution 2.3.6 validates only these (its `where` properties are leftovers the service does not read).
FIND_MESSAGES = {
    "properties": {
        "where": {"type": "object"},
        "offset": {"type": "integer"},
        "page": {"type": "integer"},
        "sort": {"type": "string", "enum": ["asc", "desc"]},
    }
}
