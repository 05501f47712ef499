"""Pending attachments and channel state: accepted platform updates, Telegram button
payloads, blocked recipients and rotating platform tokens.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("uri", sa.String(length=1024), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("original_name", sa.String(length=255), nullable=True),
        sa.Column("source_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_attachment")),
        sa.UniqueConstraint("source_key", name=op.f("uq_pending_attachment_source_key")),
    )
    with op.batch_alter_table("pending_attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_attachment_sender_id"), ["sender_id"], unique=False
        )

    op.create_table(
        "channel_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_update")),
        sa.UniqueConstraint("channel", "external_id", name=op.f("uq_channel_update_channel")),
    )
    with op.batch_alter_table("channel_update", schema=None) as batch_op:
        batch_op.create_index("ix_channel_update_pending", ["status", "received_at"], unique=False)

    op.create_table(
        "button_choice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("keyboard", sa.String(length=32), nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("used_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_button_choice")),
        sa.UniqueConstraint("token", name=op.f("uq_button_choice_token")),
    )
    with op.batch_alter_table("button_choice", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_button_choice_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_button_choice_keyboard"), ["keyboard"], unique=False)

    op.create_table(
        "blocked_recipient",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("blocked_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "recipient", name=op.f("pk_blocked_recipient")),
    )

    op.create_table(
        "platform_token",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_platform_token")),
    )


def downgrade() -> None:
    op.drop_table("platform_token")
    op.drop_table("blocked_recipient")

    with op.batch_alter_table("button_choice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_button_choice_keyboard"))
        batch_op.drop_index(batch_op.f("ix_button_choice_created_at"))
    op.drop_table("button_choice")

    with op.batch_alter_table("channel_update", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_update_pending")
    op.drop_table("channel_update")

    with op.batch_alter_table("pending_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_attachment_sender_id"))
    op.drop_table("pending_attachment")
