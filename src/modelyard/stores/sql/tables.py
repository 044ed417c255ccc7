"""The schema, one definition for SQLite and PostgreSQL.

Rows refer to each other by small integer keys; the public identifiers (run ids, experiment
numbers) are stored once, in their own table. Metric points, the largest table by far, hold
only ``(series, timestamp, step, value, is_nan)`` and are clustered by series on SQLite
(``WITHOUT ROWID``) so that a metric's history is one contiguous range scan.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    # Experiment ids are numbered per project, so every project has its own "0" (Default).
    Column("next_experiment_number", Integer, nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    UniqueConstraint("project_id", "number"),
    UniqueConstraint("project_id", "name"),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        ForeignKey("experiments.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_uuid", String(32), nullable=False, unique=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("experiment_id", ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("artifact_uri", Text, nullable=False),
    Column("deleted_time", BigInteger),
    Index(None, "experiment_id", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per (run, metric key): the series' identity and its latest point.
metric_series = Table(
    "metric_series",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Double, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    UniqueConstraint("run_id", "key"),
)

# The primary key doubles as MLflow's rule that an identical point logged twice is kept once,
# and as the history order. NaN is stored as value 0 with is_nan set, because SQLite turns NaN
# into NULL. There is no foreign key: the check would cost every insert on the hottest path,
# and points are only written through their series (garbage collection removes orphans).
metric_points = Table(
    "metric_points",
    metadata,
    Column("series_id", Integer, primary_key=True, autoincrement=False),
    Column("timestamp", BigInteger, primary_key=True, autoincrement=False),
    Column("step", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Double, primary_key=True),
    Column("is_nan", Boolean, primary_key=True),
    sqlite_with_rowid=False,
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("experiment_id", ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text),
    Column("profile", Text),
    UniqueConstraint("experiment_id", "name", "digest"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("dataset_id", ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    UniqueConstraint("run_id", "dataset_id"),
)

input_tags = Table(
    "input_tags",
    metadata,
    Column("input_id", ForeignKey("run_inputs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", String(500), nullable=False),
)

# One row per artifact file written through the server: what its bytes must hash to.
artifact_files = Table(
    "artifact_files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "path"),
)

logged_models = Table(
    "logged_models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", String(36), nullable=False, unique=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("experiment_id", ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("status_message", Text),
    Column("model_type", String(500), nullable=False),
    # The run's public id, unchecked as in MLflow: a model outlives its run.
    Column("source_run_id", String(32), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    Index(None, "experiment_id", "creation_time"),
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column("model_id", ForeignKey("logged_models.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column("model_id", ForeignKey("logged_models.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

# Every metric point logged against a model (MLflow returns the whole history with the model).
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", ForeignKey("logged_models.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Double, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("run_id", String(32)),
    Column("dataset_name", String(500)),
    Column("dataset_digest", String(36)),
    Index(None, "model_id", "key"),
)

# Models a run consumed (log-inputs "models") and produced (runs/outputs). Model ids are not
# checked, as in MLflow: a model may live in another system.
run_model_inputs = Table(
    "run_model_inputs",
    metadata,
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("model_id", String(36), primary_key=True),
)

run_model_outputs = Table(
    "run_model_outputs",
    metadata,
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("model_id", String(36), primary_key=True),
    Column("step", BigInteger, nullable=False),
)

# The model registry. A model's name is unique in its project; its versions are numbered from
# 1 by ``last_version`` (a counter, so numbers of deleted versions are never given again).
registered_models = Table(
    "registered_models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("description", Text),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("last_version", Integer, nullable=False),
    UniqueConstraint("project_id", "name"),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column(
        "registered_model_id",
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

# A deleted version keeps its row (and its number and semantic version, which are never given
# to another version) with ``deleted_time`` set; it is invisible to every read.
model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "registered_model_id",
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version", Integer, nullable=False),
    Column("semver", String(128)),
    # The semantic version without build metadata: two versions may not share it.
    Column("semver_core", String(128)),
    Column("stage", String(20), nullable=False),
    Column("source", Text, nullable=False),
    Column("storage_location", Text, nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("model_id", String(36)),
    Column("run_link", Text, nullable=False),
    Column("description", Text),
    Column("user_id", String(256)),
    Column("status_message", Text),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("deleted_time", BigInteger),
    UniqueConstraint("registered_model_id", "version"),
    UniqueConstraint("registered_model_id", "semver_core"),
    Index(None, "run_id"),
)

# Searches find prompts by the key of their tag (values can be too long to index).
model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("version_id", ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "key"),
)

# What a version was made from, captured when it was registered (JSON): it stays true when the
# run is later changed or deleted.
model_version_lineage = Table(
    "model_version_lineage",
    metadata,
    Column("version_id", ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("document", Text, nullable=False),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column(
        "registered_model_id",
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("alias", String(255), primary_key=True),
    Column("version_id", ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False),
)

# Every assignment and removal of an alias, so "which version was @production at time T" has an
# answer. A NULL version records a removal.
alias_history = Table(
    "alias_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "registered_model_id",
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("alias", String(255), nullable=False),
    Column("version", Integer),
    Column("changed_at", BigInteger, nullable=False),
    Column("actor", String(256)),
    Index(None, "registered_model_id", "alias", "changed_at"),
)

# Every registry mutation. Rows name the model as it was called then and keep its key without a
# foreign key, so they outlive the model and still follow it through renames.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(256)),
    Column("action", String(64), nullable=False),
    Column("registered_model_id", Integer),
    Column("model_name", String(256), nullable=False),
    Column("version", Integer),
    Column("before", Text),
    Column("after", Text),
    Index(None, "project_id", "at"),
    Index(None, "project_id", "model_name", "at"),
    Index(None, "registered_model_id", "at"),
)

# The outbox: one row per change others may react to, written in the change's transaction.
# ``dispatched_at`` is set once a worker has turned it into deliveries.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("model_name", String(256)),
    Column("alias", String(255)),
    Column("payload", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("dispatched_at", BigInteger),
    Index("ix_events_undispatched", "dispatched_at", "id"),
    Index(None, "project_id", "created_at"),
)

# Subscriptions: MLflow's webhooks and our CI triggers. The secret is stored encrypted
# (``secret``) or named as an environment variable of the worker (``secret_env``).
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("description", Text),
    Column("kind", String(16), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("target", Text, nullable=False),
    Column("events", Text, nullable=False),
    Column("filters", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("secret", Text),
    Column("secret_env", String(256)),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index(None, "project_id", "created_at"),
)

# One row per (event, webhook): the unit of retry. ``key`` is the idempotency key receivers
# see on every attempt; ``lease_until`` bounds how long a claiming worker owns a sending row.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("event_id", ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("webhook_id", ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("lease_until", BigInteger),
    Column("claimed_by", String(128)),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger),
    UniqueConstraint("event_id", "webhook_id"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index(None, "project_id", "created_at"),
    Index(None, "webhook_id", "created_at"),
)

# Every attempt, once: the primary key (delivery, number) makes a second send of the same
# attempt by another worker fail before it goes out.
delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("delivery_id", ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("worker", String(128), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
    Column("status_code", Integer),
    Column("error", Text),
)

# Results of `modelyard evaluate` recorded on a version: shown in its lineage, checked by
# deployment policies.
model_version_evaluations = Table(
    "model_version_evaluations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", String(32)),
    Column("passed", Boolean, nullable=False),
    Column("document", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("actor", String(256)),
    Index(None, "version_id", "created_at"),
)

# Where models run: development, staging and production exist in every project; more can be
# added. ``policies`` is JSON: what a version needs before it may run there.
environments = Table(
    "environments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(32), nullable=False),
    Column("description", Text),
    Column("policies", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
)

# One per (environment, model): the desired state, whose every change is a revision.
deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("environment_id", ForeignKey("environments.id", ondelete="CASCADE"), nullable=False),
    Column(
        "registered_model_id",
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("target", String(16), nullable=False),
    Column("current_revision", Integer, nullable=False),
    Column("endpoint", String(2048)),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("environment_id", "registered_model_id"),
)

# The history: "what was in production when" is the revision in force at that time.
deployment_revisions = Table(
    "deployment_revisions",
    metadata,
    Column("deployment_id", ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("strategy", String(16), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("stable_version", Integer),
    Column("canary_percent", SmallInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("message", Text),
    Column("actor", String(256)),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "deployment_id", "created_at"),
)

# Approvals of a version for an environment, which production's policy asks for.
deployment_approvals = Table(
    "deployment_approvals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False),
    Column("environment_id", ForeignKey("environments.id", ondelete="CASCADE"), nullable=False),
    Column("approver", String(256), nullable=False),
    Column("comment", Text),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("version_id", "environment_id", "approver"),
)
