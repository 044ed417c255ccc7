"""Runs: their attributes, params, tags and dataset inputs."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, delete, insert, select, tuple_, update

from modelyard.domain.experiments import LifecycleStage, Project
from modelyard.domain.logged_models import ModelOutput
from modelyard.domain.runs import (
    DatasetInput,
    DatasetSummary,
    Param,
    Run,
    RunInfo,
    RunPatch,
    Tag,
)
from modelyard.domain.tags import RUN_NAME
from modelyard.errors import InvalidArgument, NotFound
from modelyard.stores.base import ExperimentRef, Page, RunQuery, RunRef
from modelyard.stores.sql.dialect import insert_ignore, upsert
from modelyard.stores.sql.experiments import parse_experiment_id
from modelyard.stores.sql.run_reader import (
    RUN_COLUMNS,
    read_run,
    read_run_provenance,
    read_runs_in_order,
    run_info,
)
from modelyard.stores.sql.run_search import search_statement
from modelyard.stores.sql.tables import (
    datasets,
    experiments,
    input_tags,
    params,
    run_inputs,
    run_model_inputs,
    run_model_outputs,
    runs,
    tags,
)

_RUN_REF = select(runs.c.id, runs.c.experiment_id, runs.c.lifecycle_stage).where(
    runs.c.run_uuid == bindparam("run_id"), runs.c.project_id == bindparam("project_id")
)


_INSERT_RUN = insert(runs).returning(runs.c.id)
_INSERT_TAG = insert(tags)


class SqlRunStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def create_run(
        self, project: Project, experiment: ExperimentRef, info: RunInfo, tags: Sequence[Tag]
    ) -> None:
        run_key = self._db.execute(
            _INSERT_RUN,
            {
                "run_uuid": info.run_id,
                "project_id": project.id,
                "experiment_id": experiment.key,
                "name": info.run_name,
                "user_id": info.user_id,
                "status": info.status,
                "start_time": info.start_time,
                "end_time": info.end_time,
                "lifecycle_stage": info.lifecycle_stage,
                "artifact_uri": info.artifact_uri,
                "deleted_time": None,
            },
        ).scalar_one()
        if tags:
            self._db.execute(
                _INSERT_TAG, [{"run_id": run_key, "key": t.key, "value": t.value} for t in tags]
            )

    def get_run(self, project: Project, run_id: str) -> Run:
        found = read_run(self._db, project.id, run_id)
        if found is None:
            raise NotFound(f"Run with id={run_id} not found")
        return found

    def get_run_provenance(self, project: Project, run_id: str) -> tuple[Run, str]:
        found = read_run_provenance(self._db, project.id, run_id)
        if found is None:
            raise NotFound(f"Run with id={run_id} not found")
        return found

    def get_run_ref(self, project: Project, run_id: str) -> RunRef:
        row = self._db.execute(_RUN_REF, {"run_id": run_id, "project_id": project.id}).one_or_none()
        if row is None:
            raise NotFound(f"Run with id={run_id} not found")
        return RunRef(row.id, run_id, row.experiment_id, LifecycleStage(row.lifecycle_stage))

    def update_run(self, ref: RunRef, patch: RunPatch) -> RunInfo:
        values: dict[str, object] = {}
        if patch.status is not None:
            values["status"] = patch.status
        if patch.end_time is not None:
            values["end_time"] = patch.end_time
        if patch.run_name is not None:
            values["name"] = patch.run_name
            self._db.execute(
                upsert(self._db, tags, ["run_id", "key"], ["value"]),
                {"run_id": ref.key, "key": RUN_NAME, "value": patch.run_name},
            )
        if values:
            self._db.execute(update(runs).where(runs.c.id == ref.key).values(**values))
        row = self._db.execute(
            select(*RUN_COLUMNS).join_from(runs, experiments).where(runs.c.id == ref.key)
        ).one()
        return run_info(row)

    def set_run_stage(self, ref: RunRef, stage: LifecycleStage, now_ms: int) -> None:
        self._db.execute(
            update(runs)
            .where(runs.c.id == ref.key)
            .values(
                lifecycle_stage=stage,
                deleted_time=now_ms if stage == LifecycleStage.DELETED else None,
            )
        )

    def log_params(self, ref: RunRef, new_params: Sequence[Param]) -> None:
        if not new_params:
            return
        # Write-once: insert what is new, then compare whatever was there already. Doing it in
        # this order keeps two concurrent writers of one key from both succeeding.
        inserted = set(
            self._db.execute(
                insert_ignore(self._db, params).returning(params.c.key),
                [
                    {"run_id": ref.key, "key": p.key, "value": p.value}
                    for p in sorted(new_params, key=lambda p: p.key)
                ],
            ).scalars()
        )
        already = [p for p in new_params if p.key not in inserted]
        if already:
            self._refuse_changed_params(ref, already)

    def _refuse_changed_params(self, ref: RunRef, logged: Sequence[Param]) -> None:
        stored = dict(
            self._db.execute(
                select(params.c.key, params.c.value).where(
                    params.c.run_id == ref.key, params.c.key.in_([p.key for p in logged])
                )
            ).all()
        )
        changed = [
            {"key": p.key, "old_value": stored[p.key], "new_value": p.value}
            for p in logged
            if stored.get(p.key, p.value) != p.value
        ]
        if changed:
            raise InvalidArgument(
                f"Changing param values is not allowed. Params were already logged='{changed}' "
                f"for run ID='{ref.run_id}'."
            )

    def set_tags(self, ref: RunRef, run_tags: Sequence[Tag]) -> None:
        if not run_tags:
            return
        latest = {t.key: t.value for t in run_tags}
        self._db.execute(
            upsert(self._db, tags, ["run_id", "key"], ["value"]),
            [{"run_id": ref.key, "key": key, "value": latest[key]} for key in sorted(latest)],
        )
        if RUN_NAME in latest:
            self._db.execute(update(runs).where(runs.c.id == ref.key).values(name=latest[RUN_NAME]))

    def delete_tag(self, ref: RunRef, key: str) -> None:
        deleted = self._db.execute(
            delete(tags).where(tags.c.run_id == ref.key, tags.c.key == key)
        ).rowcount
        if not deleted:
            raise NotFound(f"No tag with name: {key} in run with id {ref.run_id}")

    def log_inputs(self, ref: RunRef, inputs: Sequence[DatasetInput]) -> None:
        if not inputs:
            return
        unique = {(i.dataset.name, i.dataset.digest): i for i in inputs}
        self._db.execute(
            insert_ignore(self._db, datasets, ["experiment_id", "name", "digest"]),
            [
                {
                    "experiment_id": ref.experiment_key,
                    "name": i.dataset.name,
                    "digest": i.dataset.digest,
                    "source_type": i.dataset.source_type,
                    "source": i.dataset.source,
                    "schema": i.dataset.schema,
                    "profile": i.dataset.profile,
                }
                for i in unique.values()
            ],
        )
        dataset_keys = dict(
            (((row.name, row.digest), row.id))
            for row in self._db.execute(
                select(datasets.c.id, datasets.c.name, datasets.c.digest).where(
                    datasets.c.experiment_id == ref.experiment_key,
                    tuple_(datasets.c.name, datasets.c.digest).in_(list(unique)),
                )
            )
        )
        self._db.execute(
            insert_ignore(self._db, run_inputs, ["run_id", "dataset_id"]),
            [{"run_id": ref.key, "dataset_id": key} for key in dataset_keys.values()],
        )
        input_keys = dict(
            self._db.execute(
                select(run_inputs.c.dataset_id, run_inputs.c.id).where(
                    run_inputs.c.run_id == ref.key,
                    run_inputs.c.dataset_id.in_(list(dataset_keys.values())),
                )
            ).all()
        )
        tag_rows = [
            {"input_id": input_keys[dataset_keys[identity]], "key": t.key, "value": t.value}
            for identity, dataset_input in unique.items()
            for t in dataset_input.tags
        ]
        if tag_rows:
            self._db.execute(insert_ignore(self._db, input_tags), tag_rows)

    def log_model_inputs(self, ref: RunRef, model_ids: Sequence[str]) -> None:
        if model_ids:
            self._db.execute(
                insert_ignore(self._db, run_model_inputs),
                [{"run_id": ref.key, "model_id": m} for m in sorted(set(model_ids))],
            )

    def log_model_outputs(self, ref: RunRef, outputs: Sequence[ModelOutput]) -> None:
        if outputs:
            self._db.execute(
                insert_ignore(self._db, run_model_outputs),
                [
                    {"run_id": ref.key, "model_id": o.model_id, "step": o.step}
                    for o in sorted(outputs, key=lambda o: o.model_id)
                ],
            )

    def search_runs(self, project: Project, query: RunQuery) -> Page[Run]:
        keys = self._experiment_keys(project, query.experiment_ids)
        page_keys = list(self._db.execute(search_statement(self._db, keys, query)).scalars())
        more = len(page_keys) > query.limit
        items = read_runs_in_order(self._db, page_keys[: query.limit])
        return Page(items, query.offset + query.limit if more else None)

    def _experiment_keys(self, project: Project, experiment_ids: Sequence[str]) -> list[int]:
        """Keys of the named experiments; ids naming no experiment are skipped, as in MLflow."""
        numbers = {parse_experiment_id(e) for e in experiment_ids}
        return list(
            self._db.execute(
                select(experiments.c.id).where(
                    experiments.c.project_id == project.id, experiments.c.number.in_(numbers)
                )
            ).scalars()
        )

    def search_datasets(
        self, project: Project, experiment_ids: Sequence[str], limit: int
    ) -> list[DatasetSummary]:
        keys = self._experiment_keys(project, experiment_ids)
        context = (
            select(input_tags.c.input_id, input_tags.c.value)
            .where(input_tags.c.key == "mlflow.data.context")
            .subquery()
        )
        rows = self._db.execute(
            select(
                experiments.c.number,
                datasets.c.name,
                datasets.c.digest,
                context.c.value.label("context"),
            )
            .distinct()
            .select_from(datasets)
            .join(experiments, experiments.c.id == datasets.c.experiment_id)
            .join(run_inputs, run_inputs.c.dataset_id == datasets.c.id)
            .outerjoin(context, context.c.input_id == run_inputs.c.id)
            .where(datasets.c.experiment_id.in_(keys))
            .order_by(experiments.c.number, datasets.c.name, datasets.c.digest, "context")
            .limit(limit)
        )
        return [DatasetSummary(str(row.number), row.name, row.digest, row.context) for row in rows]
