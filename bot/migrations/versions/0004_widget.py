"""The web widget's transcript (widget_message).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "widget_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=True),
        sa.Column("image", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_widget_message")),
        sa.UniqueConstraint("session_id", "client_id", name=op.f("uq_widget_message_session_id")),
    )
    op.create_index(
        op.f("ix_widget_message_session_id"), "widget_message", ["session_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_widget_message_session_id"), table_name="widget_message")
    op.drop_table("widget_message")
