"""The relational schema: one SQLAlchemy metadata for the application and the embedded engine.

Datetimes are stored as naive UTC and come back aware (:class:`UTCDateTime`). The migrations under
``persistence/migrations`` create exactly this schema (a test compares them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, naive UTC in the column."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------ agencies and people

agency_structure = Table(
    "agency_structure",
    metadata,
    Column("version", String(40), primary_key=True),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
    Column("tiers", Integer, nullable=False),
    Column("description", Text, nullable=False, default=""),
)

agency = Table(
    "agency",
    metadata,
    Column("structure_version", String(40), ForeignKey("agency_structure.version"), primary_key=True),
    Column("code", String(40), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("level", String(20), nullable=False),
    Column("parent_code", String(40)),
    Column("role_departments", JSON, nullable=False, default=dict),
)

department = Table(
    "department",
    metadata,
    Column("structure_version", String(40), primary_key=True),
    Column("agency_code", String(40), primary_key=True),
    Column("code", String(40), primary_key=True),
    Column("name", String(255), nullable=False),
)

app_user = Table(
    "app_user",
    metadata,
    Column("username", String(80), primary_key=True),
    Column("full_name", String(255), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(20), nullable=False),
    Column("agency_code", String(40)),
    Column("department_code", String(40)),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
)

api_token = Table(
    "api_token",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(80), ForeignKey("app_user.username"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

calendar_override = Table(
    "calendar_override",
    metadata,
    Column("day", Date, primary_key=True),
    Column("kind", String(20), nullable=False),  # holiday | working_day
    Column("reason", Text, nullable=False),
)

# ------------------------------------------------------------------ procedures and dossiers

procedure = Table(
    "procedure",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String(500), nullable=False),
    Column("process_key", String(120), nullable=False),
    Column("time_limit_days", Integer, nullable=False),
    Column("working_days", Boolean, nullable=False),
    Column("data", JSON, nullable=False),
)

# the procedure designer (services.procedure_design): a procedure being authored, one draft per code, seen by every
# API process; its parts (entry, form, result template, BPMN) as JSON until it is published into the catalogue
procedure_draft = Table(
    "procedure_draft",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("parts", JSON, nullable=False),
    Column("origin", String(20), nullable=False),
    Column("saved_by", String(80), nullable=False),
    Column("saved_at", UTCDateTime, nullable=False),
)

# each publication of a designed procedure: the dated version it made and the engine definitions it deployed
procedure_publication = Table(
    "procedure_publication",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(40), nullable=False, index=True),
    Column("valid_from", Date, nullable=False),
    Column("published_by", String(80), nullable=False),
    Column("published_at", UTCDateTime, nullable=False),
    Column("process_key", String(120), nullable=False),
    Column("deployed", JSON, nullable=False),
    Column("bpmn_sha256", String(64), nullable=False),
)

dossier = Table(
    "dossier",
    metadata,
    Column("code", String(60), primary_key=True),
    Column("procedure_code", String(40), ForeignKey("procedure.code"), nullable=False),
    Column("agency_code", String(40), nullable=False),
    Column("structure_version", String(40), nullable=False),
    Column("status", String(30), nullable=False),
    Column("applicant_name", String(255), nullable=False),
    Column("applicant_id_number", String(20), nullable=False),
    Column("applicant_phone", String(20)),
    Column("channel", String(20), nullable=False, default="counter"),
    Column("received_at", UTCDateTime, nullable=False),
    Column("clock_start", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("paused_at", UTCDateTime),
    Column("paused_seconds", Integer, nullable=False, default=0),
    Column("finished_at", UTCDateTime),
    Column("decision", String(30)),
    Column("details", JSON),  # what the applicant declared on the application form (procedure specific)
    Column("rule_version", String(40)),  # the catalogue rule version the dossier is handled under
    Column("applicant_email", String(255)),  # for notifications (Notifier port), optional
    Column(
        "return_channel", String(20), nullable=False, default="counter", server_default="counter"
    ),  # counter | postal | online
    Column("received_by", String(80), nullable=False),
    Column("process_instance_id", String(64)),
    Column("updated_at", UTCDateTime, nullable=False),
    # an online dossier: the citizen's account that filed it (``received_by`` becomes the reception officer who
    # accepts it); when reception accepted it (``received_at`` is then that moment and the time limit runs from
    # it) — None while it waits in the reception queue, or when it was refused there (never received)
    Column("submitted_by", String(80), index=True),
    Column("accepted_at", UTCDateTime),
    # what the latest supplement request asks for, while the dossier waits for it (lookup, citizen, desk)
    Column("awaiting", Text),
    # folded name, ID number, phone and code (dossiers.search_text), written with the applicant's data
    Column("search_text", String(400), nullable=False, default="", server_default=""),
    Index("ix_dossier_agency_status", "agency_code", "status"),
    Index("ix_dossier_status_due", "status", "due_at"),  # late risks: the dossiers of a status due by a moment
    # an agency's dossiers newest first, the search text read from the index before the row (dossier_search)
    Index("ix_dossier_agency_received", "agency_code", "received_at", "search_text"),
    # the statistics of a period (persistence.reports.statistics_report): received before its end, not finished
    # before its start; the tracking register of every agency at once
    Index("ix_dossier_received_at", "received_at"),
    Index("ix_dossier_finished_at", "finished_at"),
)

# Fees (Payment port): recorded before the result is returned; ``online`` marks payment through a gateway.
payment = Table(
    "payment",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("dossier_code", String(60), ForeignKey("dossier.code"), nullable=False, index=True),
    Column("amount_vnd", Integer, nullable=False),
    Column("method", String(20), nullable=False),  # cash | gateway
    Column("online", Boolean, nullable=False),
    Column("reference", String(120), nullable=False),  # receipt number or the gateway's transaction id
    Column("status", String(20), nullable=False),  # pending | paid | failed | refunded
    Column("created_at", UTCDateTime, nullable=False),
    Column("paid_at", UTCDateTime),
    Column("recorded_by", String(80), nullable=False),
    UniqueConstraint("method", "reference", name="uq_payment_method_reference"),
)

# The citizen's satisfaction with a resolved dossier (QĐ 766: five levels).
rating = Table(
    "rating",
    metadata,
    Column("dossier_code", String(60), ForeignKey("dossier.code"), primary_key=True),
    Column("level", Integer, nullable=False),  # 1 (very dissatisfied) … 5 (very satisfied)
    Column("comment", Text),
    Column("rated_at", UTCDateTime, nullable=False),
)

# Outbox of messages to citizens (Notifier port): written in the business transaction, sent afterwards.
notification = Table(
    "notification",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("dossier_code", String(60), index=True),
    Column("channel", String(20), nullable=False),  # email | sms | outbox
    Column("recipient", String(255), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("body", Text, nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("status", String(20), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Index("ix_notification_status_created", "status", "created_at"),  # the dispatcher reads only pending rows
)

# A dossier that will miss its date: the department's task to issue the apology letter (Mẫu 04).
late_notice = Table(
    "late_notice",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("dossier_code", String(60), ForeignKey("dossier.code"), nullable=False, unique=True),
    Column("agency_code", String(40), nullable=False),
    Column("department_code", String(40)),
    Column("old_due_at", UTCDateTime, nullable=False),
    Column("new_due_at", UTCDateTime),
    Column("reason", Text),
    Column("status", String(20), nullable=False),  # open | issued
    Column("created_at", UTCDateTime, nullable=False),
    Column("issued_at", UTCDateTime),
    Column("issued_by", String(80)),
    Column("document_id", String(36)),
)

dossier_counter = Table(
    "dossier_counter",
    metadata,
    Column("unit_code", String(40), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("last_serial", Integer, nullable=False),
)

document = Table(
    "document",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("dossier_code", String(60), ForeignKey("dossier.code"), nullable=False, index=True),
    Column("kind", String(30), nullable=False),  # upload | receipt | result | …
    Column("paper_key", String(80)),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage_key", String(500), nullable=False),
    Column("version_id", String(200)),
    Column("idempotency_key", String(200), unique=True),
    Column("created_by", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(60), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("dossier_code", String(60), index=True),
    Column("details", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False, unique=True),
    # the steps an official completed ("đã xử lý") and the agencies a dossier was handed to, without a scan
    Index("ix_audit_log_kind_actor", "kind", "actor"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("entry_hash", String(64), nullable=False),
)

# A signed, timestamped statement of the audit chain's head (DESIGN §10): seq and head hash, signed by the
# agency's key with an RFC 3161 timestamp when a TSA is configured (detached CMS over the statement).
audit_checkpoint = Table(
    "audit_checkpoint",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("head_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("agency_code", String(40), nullable=False),
    Column("statement", LargeBinary, nullable=False),  # the canonical bytes that were signed
    Column("signature", LargeBinary, nullable=False),  # DER of the detached CMS (CAdES-B or -T)
    Column("timestamped", Boolean, nullable=False, default=False),
    Column("trigger", String(20), nullable=False),  # schedule | demand
)

# One row per counted request of a rate limit (motcua/ratelimit.py): failed logins per user name and client
# address, public lookups per address. In the database so every API process counts the same requests; ``at`` is
# wall-clock seconds since the epoch, and rows older than the longest window are pruned as hits come in.
rate_limit_hit = Table(
    "rate_limit_hit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_rate_limit_hit_key_at", "key", "at"),
)

# Envelopes to partner agencies (DESIGN §9): the outbox row is written in the sender's transaction and
# delivered afterwards, with retries and backoff, until the partner's signed acknowledgment is stored.
exchange_outbox = Table(
    "exchange_outbox",
    metadata,
    Column("message_id", String(200), primary_key=True),
    Column("dossier_code", String(60), nullable=False, index=True),
    Column("sender_agency", String(40), nullable=False),
    Column("receiver_agency", String(40), nullable=False),
    Column("manifest", LargeBinary, nullable=False),  # canonical JSON bytes
    Column("signature", LargeBinary, nullable=False),  # detached CMS over the manifest
    Column("status", String(20), nullable=False),  # pending | delivered | refused
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("ack", LargeBinary),  # the receiver's signed acknowledgment (JSON bytes)
    Column("ack_signature", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Index("ix_exchange_outbox_status_next", "status", "next_attempt_at"),  # only the envelopes due now
)

# Envelopes received from partners, once per message id: a replay gets the same signed acknowledgment.
exchange_inbox = Table(
    "exchange_inbox",
    metadata,
    Column("message_id", String(200), primary_key=True),
    Column("sender_agency", String(40), nullable=False),
    Column("receiver_agency", String(40), nullable=False),
    Column("dossier_code", String(60), nullable=False, index=True),
    Column("manifest_sha256", String(64), nullable=False),
    Column("status", String(20), nullable=False),  # accepted | refused
    Column("ack", LargeBinary, nullable=False),
    Column("ack_signature", LargeBinary, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)

pending_signature = Table(
    "pending_signature",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("dossier_code", String(60), ForeignKey("dossier.code"), nullable=False, index=True),
    Column("signer", String(80), nullable=False),  # the username whose device signs
    Column("field_name", String(80), nullable=False),
    Column("document_kind", String(30), nullable=False),
    Column("state", Text, nullable=False),  # serialized prepared signature: PDF with placeholder + what to sign
    Column("idempotency_key", String(200), unique=True, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    Column("document_id", String(36)),  # the signed document once the signature is embedded
    # the letters the head signed of late, to seal those a failure left unsealed (services.paperwork)
    Index("ix_pending_signature_kind_completed", "document_kind", "completed_at"),
)

document_register = Table(
    "document_register",
    metadata,
    Column("agency_code", String(40), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("series", String(40), primary_key=True),  # e.g. GCN-HKD
    Column("last_number", Integer, nullable=False),
)

side_effect = Table(
    "side_effect",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("result", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# ------------------------------------------------------------------ embedded engine

wf_definition = Table(
    "wf_definition",
    metadata,
    Column("id", String(160), primary_key=True),  # key:version
    Column("process_key", String(120), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("source_name", String(255), nullable=False),
    Column("bpmn_xml", Text, nullable=False),
    Column("deployed_at", UTCDateTime, nullable=False),
    UniqueConstraint("process_key", "version"),
)

wf_instance = Table(
    "wf_instance",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("definition_id", String(160), ForeignKey("wf_definition.id"), nullable=False),
    Column("process_key", String(120), nullable=False),
    Column("business_key", String(120), nullable=False, unique=True),
    Column("status", String(20), nullable=False),  # running | completed | failed
    Column("state", Text, nullable=False),  # '' once pruned (EmbeddedEngine.prune_finished)
    Column("revision", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),  # when the process completed
    Column("pruned_at", UTCDateTime),  # when its state was dropped, ``summary`` kept instead
    Column("summary", JSON),  # a pruned instance's completed activity ids: {"completed": [...]}
    Index("ix_wf_instance_prune", "pruned_at", "finished_at"),
)

wf_external_task = Table(
    "wf_external_task",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("instance_id", String(36), nullable=False, index=True),
    Column("business_key", String(120), nullable=False),
    Column("topic", String(120), nullable=False),
    Column("activity_id", String(120), nullable=False),
    Column("variables", JSON, nullable=False),
    Column("retries", Integer),
    Column("worker_id", String(120)),
    Column("lock_expires_at", UTCDateTime),
    Column("available_at", UTCDateTime, nullable=False),
    Column("error_message", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_wf_external_task_fetch", "topic", "available_at"),
)

wf_user_task = Table(
    "wf_user_task",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("instance_id", String(36), nullable=False, index=True),
    Column("business_key", String(120), nullable=False, index=True),
    Column("activity_id", String(120), nullable=False),
    Column("name", String(255), nullable=False),
    Column("candidate_groups", String(255), nullable=False),
    # the one candidate group of a task that has exactly one (every shipped BPMN), None when it has several: those
    # are matched on ``candidate_groups``; ``tenant``: the agency acting on the step (dossiers.ports.TENANT_VARIABLE)
    Column("candidate_group", String(80)),
    Column("tenant", String(40)),
    Column("variables", JSON, nullable=False),
    Column("assignee", String(80)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime),
    Index("ix_wf_user_task_tenant_group_due", "tenant", "candidate_group", "due_at", "created_at"),
)

wf_timer = Table(
    "wf_timer",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("instance_id", String(36), nullable=False, index=True),
    Column("activity_id", String(120), nullable=False),
    Column("due_at", UTCDateTime, nullable=False, index=True),
)

wf_incident = Table(
    "wf_incident",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("instance_id", String(36), nullable=False, index=True),
    Column("business_key", String(120), nullable=False),
    Column("activity_id", String(120), nullable=False),
    Column("external_task_id", String(36)),
    Column("message", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
)
