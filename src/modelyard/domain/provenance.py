"""Where a run came from in CI: the tags modelyard derives from GitLab CI or GitHub Actions.

Pure functions of the environment, so the mapping is testable without a CI system.
"""

from __future__ import annotations

from collections.abc import Mapping

PROVIDER = "modelyard.ci.provider"
JOB_ID = "modelyard.ci.job.id"
JOB_URL = "modelyard.ci.job.url"
PIPELINE_ID = "modelyard.ci.pipeline.id"
PIPELINE_URL = "modelyard.ci.pipeline.url"
PROJECT = "modelyard.ci.project"
PROJECT_URL = "modelyard.ci.project.url"
COMMIT = "modelyard.ci.commit"
REF = "modelyard.ci.ref"
MERGE_REQUEST = "modelyard.ci.merge_request"
MERGE_REQUEST_URL = "modelyard.ci.merge_request.url"

# MLflow's own source tags, filled in from CI when its git context found no repository.
GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"
GIT_REPO_URL = "mlflow.source.git.repoURL"

CI_TAGS = (
    PROVIDER,
    JOB_ID,
    JOB_URL,
    PIPELINE_ID,
    PIPELINE_URL,
    PROJECT,
    PROJECT_URL,
    COMMIT,
    REF,
    MERGE_REQUEST,
    MERGE_REQUEST_URL,
)


def ci_tags(environment: Mapping[str, str]) -> dict[str, str]:
    """The provenance tags for the CI system ``environment`` belongs to; empty outside CI."""
    if environment.get("GITLAB_CI") == "true":
        found = _gitlab(environment)
    elif environment.get("GITHUB_ACTIONS") == "true":
        found = _github(environment)
    else:
        return {}
    return {key: value for key, value in found.items() if value}


def _gitlab(env: Mapping[str, str]) -> dict[str, str]:
    project_url = env.get("CI_PROJECT_URL", "")
    merge_request = env.get("CI_MERGE_REQUEST_IID", "")
    return {
        PROVIDER: "gitlab",
        JOB_ID: env.get("CI_JOB_ID", ""),
        JOB_URL: env.get("CI_JOB_URL", ""),
        PIPELINE_ID: env.get("CI_PIPELINE_ID", ""),
        PIPELINE_URL: env.get("CI_PIPELINE_URL", ""),
        PROJECT: env.get("CI_PROJECT_PATH", ""),
        PROJECT_URL: project_url,
        COMMIT: env.get("CI_COMMIT_SHA", ""),
        REF: env.get("CI_COMMIT_REF_NAME", ""),
        MERGE_REQUEST: merge_request,
        MERGE_REQUEST_URL: (
            f"{project_url}/-/merge_requests/{merge_request}"
            if merge_request and project_url
            else ""
        ),
        GIT_COMMIT: env.get("CI_COMMIT_SHA", ""),
        GIT_BRANCH: env.get("CI_COMMIT_BRANCH", "") or env.get("CI_COMMIT_REF_NAME", ""),
        GIT_REPO_URL: project_url,
    }


def _github(env: Mapping[str, str]) -> dict[str, str]:
    server = env.get("GITHUB_SERVER_URL", "https://github.com")
    repository = env.get("GITHUB_REPOSITORY", "")
    run_id = env.get("GITHUB_RUN_ID", "")
    repo_url = f"{server}/{repository}" if repository else ""
    run_url = f"{repo_url}/actions/runs/{run_id}" if repo_url and run_id else ""
    attempt = env.get("GITHUB_RUN_ATTEMPT", "")
    ref = env.get("GITHUB_REF", "")
    pull = ref.split("/")[2] if ref.startswith("refs/pull/") and ref.count("/") >= 3 else ""
    return {
        PROVIDER: "github",
        JOB_ID: env.get("GITHUB_JOB", ""),
        JOB_URL: f"{run_url}/attempts/{attempt}" if run_url and attempt else run_url,
        PIPELINE_ID: run_id,
        PIPELINE_URL: run_url,
        PROJECT: repository,
        PROJECT_URL: repo_url,
        COMMIT: env.get("GITHUB_SHA", ""),
        REF: env.get("GITHUB_HEAD_REF", "") or env.get("GITHUB_REF_NAME", ""),
        MERGE_REQUEST: pull,
        MERGE_REQUEST_URL: f"{repo_url}/pull/{pull}" if pull and repo_url else "",
        GIT_COMMIT: env.get("GITHUB_SHA", ""),
        GIT_BRANCH: env.get("GITHUB_HEAD_REF", "") or env.get("GITHUB_REF_NAME", ""),
        GIT_REPO_URL: repo_url,
    }
