"""CI provenance: the tags derived from GitLab CI and GitHub Actions environments."""

from __future__ import annotations

from modelyard.domain import provenance as p

GITLAB = {
    "GITLAB_CI": "true",
    "CI_JOB_ID": "4711",
    "CI_JOB_URL": "https://gitlab.example.com/ml/churn/-/jobs/4711",
    "CI_PIPELINE_ID": "815",
    "CI_PIPELINE_URL": "https://gitlab.example.com/ml/churn/-/pipelines/815",
    "CI_PROJECT_PATH": "ml/churn",
    "CI_PROJECT_URL": "https://gitlab.example.com/ml/churn",
    "CI_COMMIT_SHA": "a" * 40,
    "CI_COMMIT_REF_NAME": "feature/x",
    "CI_MERGE_REQUEST_IID": "12",
}


def test_outside_ci_there_are_no_tags() -> None:
    assert p.ci_tags({"PATH": "/bin", "CI": "true"}) == {}


def test_gitlab_merge_request_pipeline() -> None:
    tags = p.ci_tags(GITLAB)
    assert tags[p.PROVIDER] == "gitlab"
    assert tags[p.JOB_URL] == GITLAB["CI_JOB_URL"]
    assert tags[p.PIPELINE_ID] == "815" and tags[p.PROJECT] == "ml/churn"
    assert tags[p.MERGE_REQUEST] == "12"
    assert tags[p.MERGE_REQUEST_URL] == "https://gitlab.example.com/ml/churn/-/merge_requests/12"
    assert tags[p.GIT_COMMIT] == "a" * 40 and tags[p.GIT_BRANCH] == "feature/x"


def test_gitlab_branch_pipeline_has_no_merge_request() -> None:
    environment = {k: v for k, v in GITLAB.items() if k != "CI_MERGE_REQUEST_IID"}
    tags = p.ci_tags(environment)
    assert p.MERGE_REQUEST not in tags and p.MERGE_REQUEST_URL not in tags


def test_github_pull_request_run() -> None:
    tags = p.ci_tags(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "acme/churn",
            "GITHUB_RUN_ID": "9001",
            "GITHUB_RUN_ATTEMPT": "2",
            "GITHUB_JOB": "train",
            "GITHUB_SHA": "b" * 40,
            "GITHUB_REF": "refs/pull/34/merge",
            "GITHUB_HEAD_REF": "feature/y",
        }
    )
    assert tags[p.PROVIDER] == "github" and tags[p.JOB_ID] == "train"
    assert tags[p.PIPELINE_URL] == "https://github.com/acme/churn/actions/runs/9001"
    assert tags[p.JOB_URL] == "https://github.com/acme/churn/actions/runs/9001/attempts/2"
    assert tags[p.MERGE_REQUEST] == "34"
    assert tags[p.MERGE_REQUEST_URL] == "https://github.com/acme/churn/pull/34"
    assert tags[p.REF] == "feature/y"
