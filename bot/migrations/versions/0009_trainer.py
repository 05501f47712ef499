"""Trainers: nlu_inbox_item, nlu_inbox_source, model_release.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nlu_inbox_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("reasons", sa.String(length=128), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_intent", sa.String(length=64), nullable=True),
        sa.Column("resolved_text", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("data_file", sa.String(length=255), nullable=True),
        sa.Column("data_line", sa.Text(), nullable=True),
        sa.Column("exported_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_inbox_item")),
        sa.UniqueConstraint("key", name=op.f("uq_nlu_inbox_item_key")),
    )
    op.create_index(op.f("ix_nlu_inbox_item_last_seen_at"), "nlu_inbox_item", ["last_seen_at"])
    op.create_index(op.f("ix_nlu_inbox_item_status"), "nlu_inbox_item", ["status"])
    op.create_table(
        "nlu_inbox_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_inbox_source")),
        sa.UniqueConstraint("kind", "ref", name=op.f("uq_nlu_inbox_source_kind")),
    )
    op.create_table(
        "model_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_file", sa.String(length=512), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("data_version", sa.String(length=128), nullable=True),
        sa.Column("trained_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("macro_f1", sa.Float(), nullable=True),
        sa.Column("figures", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_release")),
    )
    op.create_index(op.f("ix_model_release_status"), "model_release", ["status"])


def downgrade() -> None:
    op.drop_table("model_release")
    op.drop_table("nlu_inbox_source")
    op.drop_table("nlu_inbox_item")
