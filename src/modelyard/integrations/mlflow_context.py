"""An mlflow run-context provider: runs started in CI carry their job, pipeline and commit.

Registered under the ``mlflow.run_context_provider`` entry point group, so the mlflow client
loads it by itself wherever modelyard is installed; training code needs no change.
"""

from __future__ import annotations

import os

from mlflow.tracking.context.abstract_context import RunContextProvider

from modelyard.domain.provenance import GIT_BRANCH, GIT_COMMIT, GIT_REPO_URL, ci_tags

_GIT_TAGS = (GIT_COMMIT, GIT_BRANCH, GIT_REPO_URL)


class CIRunContext(RunContextProvider):  # type: ignore[misc]
    def in_context(self) -> bool:
        return bool(ci_tags(os.environ))

    def tags(self) -> dict[str, str]:
        tags = ci_tags(os.environ)
        # mlflow's own git context runs first and knows the checkout better; only fill gaps.
        from mlflow.tracking.context.git_context import GitRunContext

        git = GitRunContext()
        if git.in_context():
            for key in _GIT_TAGS:
                tags.pop(key, None)
        return tags
