"""Satisfaction surveys (survey): one row per invitation, with its answer.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("handoff_id", sa.String(length=64), nullable=True),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("offered_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("commented_at", sa.DateTime(), nullable=True),
        sa.Column("comment_until", sa.DateTime(), nullable=True),
        sa.Column("flagged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_survey_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey")),
        sa.UniqueConstraint("token", name=op.f("uq_survey_token")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_survey_ticket_id")),
        sa.UniqueConstraint("handoff_id", name=op.f("uq_survey_handoff_id")),
    )
    op.create_index("ix_survey_sender_offered", "survey", ["sender_id", "offered_at"])
    op.create_index(op.f("ix_survey_offered_at"), "survey", ["offered_at"])
    op.create_index(op.f("ix_survey_answered_at"), "survey", ["answered_at"])
    op.create_index(op.f("ix_survey_unit_id"), "survey", ["unit_id"])
    # Reports filter tickets by the day they were opened.
    op.create_index("ix_ticket_created_at", "ticket", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_created_at", table_name="ticket")
    op.drop_index(op.f("ix_survey_unit_id"), table_name="survey")
    op.drop_index(op.f("ix_survey_answered_at"), table_name="survey")
    op.drop_index(op.f("ix_survey_offered_at"), table_name="survey")
    op.drop_index("ix_survey_sender_offered", table_name="survey")
    op.drop_table("survey")
