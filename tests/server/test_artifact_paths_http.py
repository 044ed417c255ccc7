"""The artifact proxy over HTTP, in-process: hostile paths never leave the artifact root, symlinks
planted on disk are not followed out of it, and downloads honour ranges and recorded checksums."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import orjson
import pytest

from modelyard import bootstrap
from modelyard.bootstrap import Container
from modelyard.server.app import create_app
from tests.conftest import make_settings
from tests.http import AppClient, app_client

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
OTHER_ARTIFACTS = "/projects/other/api/2.0/mlflow-artifacts/artifacts"
JSON_LIMIT = 64 * 1024
SECRET = b"canary secret: never served by the artifact proxy\n"
DATA = bytes((index * 7 + index // 256) % 256 for index in range(1000))
MIB = 1024 * 1024


@dataclass
class Site:
    http: AppClient
    container: Container
    root: Path
    canary: Path

    @property
    def project_root(self) -> Path:
        return self.root / "default"

    def watched(self) -> tuple[Path, ...]:
        return self.root.parent, self.canary


@pytest.fixture
def site(
    sqlite_database: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """An app whose artifact root is ``tmp_path/artifacts``, with the secret planted next to the
    root and in a canary directory that is a sibling of ``tmp_path``."""
    canary = tmp_path_factory.mktemp("canary")
    (canary / "secret.txt").write_bytes(SECRET)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    container = bootstrap.build(
        make_settings(sqlite_database, tmp_path, max_request_bytes=JSON_LIMIT)
    )
    with app_client(create_app(container)) as http:
        assert http.get("/health").status_code == 200
        yield Site(http, container, tmp_path / "artifacts", canary)
    container.close()


def raw_url(path: str, query: str | None = None) -> httpx.URL:
    """A URL sent exactly as written: httpx resolves ``.`` and ``..`` segments when it parses a
    URL (as browsers do), so the parsed reference is replaced by the raw components. Tests assert
    ``response.request.url.raw_path`` to prove what reached the server."""
    url = httpx.URL("http://testserver/")
    url._uri_reference = url._uri_reference._replace(path=path, query=query)
    return url


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def repr_digest(data: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


def snapshot(*tops: Path) -> dict[str, str]:
    """Every entry below ``tops``: directories, link targets (not followed), file digests.
    The SQLite database files are left out: reads may touch them."""
    state: dict[str, str] = {}
    for top in tops:
        for directory, dirnames, filenames in os.walk(top):
            for name in [*dirnames, *filenames]:
                path = Path(directory, name)
                if path.is_symlink():
                    state[str(path)] = f"-> {os.readlink(path)}"
                elif path.is_dir():
                    state[str(path)] = "directory"
                elif not name.startswith("modelyard.db"):
                    state[str(path)] = sha256(path.read_bytes())
    return state


def assert_error(response: httpx.Response, status: int, code: str, text: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error_code"] == code, body
    assert text in body["message"], body


def put(http: AppClient, path: str, data: bytes, prefix: str = ARTIFACTS) -> httpx.Response:
    response = http.request("PUT", f"{prefix}/{path}", content=data)
    assert response.status_code == 200, response.text
    return response


def listing(http: AppClient, path: str = "", prefix: str = ARTIFACTS) -> list[dict[str, object]]:
    response = http.get(prefix, params={"path": path} if path else None)
    assert response.status_code == 200, response.text
    return list(response.json().get("files", []))


# --- hostile paths -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """A path as it appears in the URL after ``.../artifacts/`` and in ``?path=``.

    ``{canary}`` is the canary directory's name (``../../../{canary}`` climbs from the project
    directory to it) and ``{abs}`` the absolute path of its secret, without the leading slash.
    ``normalised`` cases are sent the way ordinary clients send them, letting httpx resolve the
    dot segments first: the URL then names no route at all (404 ENDPOINT_NOT_FOUND), while the
    same text in a query string reaches the handler unchanged and is refused there.
    """

    raw: str
    status: int = 400
    code: str = "INVALID_PARAMETER_VALUE"
    list_status: int = 400
    list_code: str | None = "INVALID_PARAMETER_VALUE"
    normalised: bool = False

    def text(self, site: Site) -> str:
        absolute = str(site.canary / "secret.txt").lstrip("/")
        return self.raw.replace("{canary}", site.canary.name).replace("{abs}", absolute)


CLIMB = "../../../{canary}/secret.txt"
HOSTILE = [
    pytest.param(Hostile(CLIMB), id="dotdot-to-canary"),
    pytest.param(Hostile("../../secret.txt"), id="dotdot-to-sibling-of-root"),
    pytest.param(Hostile("../other/x"), id="dotdot-into-another-project"),
    pytest.param(Hostile("a/b/../../../x"), id="dotdot-after-real-segments"),
    pytest.param(Hostile("a/.."), id="dotdot-trailing"),
    pytest.param(Hostile(".."), id="dotdot-alone"),
    pytest.param(
        Hostile(CLIMB, 404, "ENDPOINT_NOT_FOUND", normalised=True),
        id="dotdot-resolved-by-client-404-no-route",
    ),
    pytest.param(
        Hostile("..", 404, "ENDPOINT_NOT_FOUND", normalised=True),
        id="dotdot-alone-resolved-by-client-404-no-route",
    ),
    pytest.param(Hostile("%2e%2e/%2e%2e/%2e%2e/{canary}/secret.txt"), id="encoded-dots"),
    pytest.param(Hostile("%2E%2E/%2E./.%2e/{canary}/secret.txt"), id="encoded-dots-mixed-case"),
    pytest.param(
        Hostile("%252e%252e/%252e%252e/%252e%252e/{canary}/secret.txt"), id="double-encoded-dots"
    ),
    pytest.param(
        Hostile("%25252e%25252e/%25252e%25252e/%25252e%25252e/{canary}/secret.txt"),
        id="triple-encoded-dots",
    ),
    pytest.param(Hostile("..%2f..%2f..%2f{canary}%2fsecret.txt"), id="encoded-slash"),
    pytest.param(
        Hostile("..%252f..%252f..%252f{canary}%252fsecret.txt"), id="double-encoded-slash"
    ),
    pytest.param(Hostile("%2e%2e%2f%2e%2e%2f%2e%2e%2f{canary}%2fsecret.txt"), id="fully-encoded"),
    pytest.param(Hostile("/{abs}"), id="absolute-double-slash"),
    pytest.param(Hostile("%2f{abs}"), id="absolute-encoded-slash"),
    pytest.param(Hostile("%252f{abs}"), id="absolute-double-encoded-slash"),
    pytest.param(Hostile("..\\..\\..\\{canary}\\secret.txt"), id="backslashes"),
    pytest.param(Hostile("..%5c..%5c..%5c{canary}%5csecret.txt"), id="encoded-backslashes"),
    pytest.param(Hostile("..%255c..%255c{canary}%255csecret.txt"), id="double-encoded-backslash"),
    pytest.param(Hostile("a%5cb"), id="encoded-backslash-in-a-name"),
    pytest.param(Hostile("secret.txt%00.png"), id="nul"),
    pytest.param(Hostile("a%2500b"), id="double-encoded-nul"),
    pytest.param(Hostile("a%01b"), id="control-soh"),
    pytest.param(Hostile("a%09b"), id="control-tab"),
    pytest.param(
        Hostile("a%0ab", 404, "ENDPOINT_NOT_FOUND"),
        id="control-newline-404-route-regex-stops-at-lf",
    ),
    pytest.param(
        Hostile("a%0d%0aSet-Cookie:%20x=1", 404, "ENDPOINT_NOT_FOUND"),
        id="control-crlf-header-injection-404-route-regex-stops-at-lf",
    ),
    pytest.param(Hostile("a%0db"), id="control-carriage-return"),
    pytest.param(Hostile("a%1b[31mb"), id="control-escape"),
    pytest.param(Hostile("a%7fb"), id="control-del"),
    pytest.param(Hostile("a%c2%85b"), id="control-c1-next-line"),
    pytest.param(Hostile("a/" * 520 + "x"), id="path-over-1024-characters"),
    pytest.param(Hostile("a" * 256), id="segment-over-255-bytes"),
    pytest.param(Hostile("ok/" + "%c3%a9" * 128), id="segment-of-128-characters-is-256-bytes"),
    pytest.param(Hostile("C:/x"), id="drive-letter"),
    pytest.param(Hostile("c:%5cWindows%5cwin.ini"), id="drive-letter-backslash"),
    pytest.param(Hostile("C:secret.txt"), id="drive-relative"),
    pytest.param(Hostile("./.", list_status=200, list_code=None), id="only-dots-is-the-root"),
]


def hostile_requests(site: Site, case: Hostile, method: str) -> tuple[httpx.URL, bytes]:
    """The URL for ``method`` and the raw path it must carry to the server."""
    text = case.text(site)
    if method == "LIST":
        return raw_url(ARTIFACTS, f"path={text}"), f"{ARTIFACTS}?path={text}".encode()
    if case.normalised:
        url = httpx.URL(f"http://testserver{ARTIFACTS}/{text}")
        assert b".." not in url.raw_path
        return url, url.raw_path
    path = f"{ARTIFACTS}/{text}"
    return raw_url(path), path.encode()


@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE", "LIST"])
@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_paths_are_refused_and_touch_nothing(
    site: Site, case: Hostile, method: str
) -> None:
    put(site.http, "keep/existing.txt", DATA)
    before = snapshot(*site.watched())
    url, raw_path = hostile_requests(site, case, method)
    http_method = "GET" if method == "LIST" else method
    body = b"pwned " + case.raw.encode() if method == "PUT" else None
    response = site.http.request(http_method, url, content=body)

    assert response.request.url.raw_path == raw_path
    status, code = (
        (case.list_status, case.list_code) if method == "LIST" else (case.status, case.code)
    )
    if code is None:
        assert response.status_code == status, response.text
    else:
        assert_error(response, status, code)
    assert SECRET not in response.content
    assert snapshot(*site.watched()) == before
    assert site.http.get(f"{ARTIFACTS}/keep/existing.txt").content == DATA


@pytest.mark.parametrize(
    "project",
    [
        pytest.param("%2e%2e", id="dotdot"),
        pytest.param("..%2f..", id="encoded-slash"),
        pytest.param("%252e%252e", id="double-encoded"),
        pytest.param("default%00", id="nul"),
        pytest.param("DEFAULT", id="other-case"),
    ],
)
def test_hostile_project_names_are_unknown_projects(site: Site, project: str) -> None:
    put(site.http, "keep/existing.txt", DATA)
    before = snapshot(*site.watched())
    prefix = f"/projects/{project}/api/2.0/mlflow-artifacts/artifacts"
    for method, url in [
        ("PUT", raw_url(f"{prefix}/x")),
        ("GET", raw_url(f"{prefix}/keep/existing.txt")),
        ("DELETE", raw_url(f"{prefix}/keep")),
        ("GET", raw_url(prefix, "path=keep")),
    ]:
        response = site.http.request(method, url, content=b"pwned" if method == "PUT" else None)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["error_code"] in ("RESOURCE_DOES_NOT_EXIST", "ENDPOINT_NOT_FOUND")
        assert DATA not in response.content
    assert snapshot(*site.watched()) == before


def test_absolute_directories_cannot_be_listed(site: Site) -> None:
    for path in ["/etc", "/", "//etc", str(site.canary), "/%2e%2e"]:
        response = site.http.get(ARTIFACTS, params={"path": path})
        assert_error(response, 400, "INVALID_PARAMETER_VALUE", "relative")
        assert b"secret.txt" not in response.content


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("../..", id="dotdot"),
        pytest.param("%2e%2e/%2e%2e", id="encoded-dots"),
        pytest.param("%252e%252e", id="double-encoded-dots"),
        pytest.param("/etc", id="absolute"),
        pytest.param("..\\..", id="backslashes"),
        pytest.param("a\x00b", id="nul"),
    ],
)
def test_run_artifact_listing_refuses_hostile_paths(site: Site, path: str) -> None:
    run = site.http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"})
    run_id = run.json()["run"]["info"]["run_id"]
    response = site.http.get(
        "/api/2.0/mlflow/artifacts/list", params={"run_id": run_id, "path": path}
    )
    assert_error(response, 400, "INVALID_PARAMETER_VALUE")
    assert b"secret.txt" not in response.content


HOSTILE_LOCATIONS = [
    "mlflow-artifacts:/../..",
    "mlflow-artifacts:/%2e%2e/%2e%2e",
    "mlflow-artifacts://host:5000/../..",
    "mlflow-artifacts:/0/../../..",
]


def create_experiment(site: Site, location: str) -> httpx.Response:
    return site.http.post(
        "/api/2.0/mlflow/experiments/create", json={"name": location, "artifact_location": location}
    )


@pytest.mark.parametrize("location", HOSTILE_LOCATIONS)
def test_an_experiment_location_leaving_the_proxy_root_never_lists_outside(
    site: Site, location: str
) -> None:
    """Whether or not creation accepts the location, its runs never list outside the root."""
    created = create_experiment(site, location)
    if created.status_code != 200:
        return
    experiment_id = created.json()["experiment_id"]
    run = site.http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id})
    run_id = run.json()["run"]["info"]["run_id"]
    response = site.http.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id})
    assert_error(response, 400, "INVALID_PARAMETER_VALUE")
    assert b"secret.txt" not in response.content


@pytest.mark.parametrize("location", HOSTILE_LOCATIONS)
def test_an_experiment_location_leaving_the_proxy_root_is_refused_when_created(
    site: Site, location: str
) -> None:
    """``file:///etc`` is refused at creation; a proxy URI whose path can never be served should
    be too, rather than make every artifact call of the experiment's runs fail later."""
    assert_error(create_experiment(site, location), 400, "INVALID_PARAMETER_VALUE")


MPU = "/api/2.0/mlflow-artifacts/mpu"


@pytest.mark.parametrize(
    ("directory", "local_path"),
    [
        pytest.param("..%2f..", "f.bin", id="directory-dotdot"),
        pytest.param("%252e%252e", "f.bin", id="directory-double-encoded"),
        pytest.param("ok", "..", id="file-name-dotdot"),
        pytest.param("ok", "%2e%2e", id="file-name-encoded-dotdot"),
        pytest.param("ok", "C:\\x\\..", id="windows-path-ending-in-dotdot"),
        pytest.param("ok", "a\x00b", id="file-name-nul"),
        pytest.param("ok", "dir/", id="no-file-name"),
    ],
)
def test_multipart_uploads_refuse_hostile_paths(
    site: Site, directory: str, local_path: str
) -> None:
    before = snapshot(*site.watched())
    response = site.http.post(
        raw_url(f"{MPU}/create/{directory}"), json={"path": local_path, "num_parts": 1}
    )
    assert_error(response, 400, "INVALID_PARAMETER_VALUE")
    upload_id = "0" * 32
    response = site.http.post(
        raw_url(f"{MPU}/complete/{directory}"),
        json={"path": local_path, "upload_id": upload_id, "parts": [{"part_number": 1}]},
    )
    assert response.status_code in (400, 404), response.text
    assert snapshot(*site.watched()) == before


@pytest.mark.parametrize(
    "upload_id",
    [
        pytest.param("../../default", id="dotdot"),
        pytest.param("%2e%2e", id="encoded-dotdot"),
        pytest.param("0" * 31, id="too-short"),
        pytest.param("0" * 32 + "\n", id="trailing-newline"),
        pytest.param("0" * 32 + "/..", id="trailing-dotdot"),
    ],
)
def test_multipart_upload_ids_are_exactly_32_hex_digits(site: Site, upload_id: str) -> None:
    put(site.http, "keep.txt", b"keep")
    before = snapshot(*site.watched())
    response = site.http.post(f"{MPU}/abort/x", json={"path": "x", "upload_id": upload_id})
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", "upload_id")
    response = site.http.post(
        f"{MPU}/complete/x",
        json={"path": "x", "upload_id": upload_id, "parts": [{"part_number": 1}]},
    )
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", "upload_id")
    assert snapshot(*site.watched()) == before


# --- symlinks planted inside the root -----------------------------------------------------------


@pytest.fixture
def planted(site: Site) -> Site:
    """Links inside the default project that lead out of the root, as a careless admin or another
    process on the host might leave them."""
    site.project_root.mkdir(parents=True, exist_ok=True)
    (site.project_root / "escape").symlink_to(site.canary, target_is_directory=True)
    (site.project_root / "leak.txt").symlink_to(site.canary / "secret.txt")
    (site.project_root / "dangling").symlink_to(site.canary / "created-through-link.txt")
    (site.root / "evil").symlink_to(site.canary, target_is_directory=True)
    site.container.projects.create("evil")
    return site


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "escape/secret.txt"),
        ("GET", "leak.txt"),
        ("PUT", "escape/secret.txt"),
        ("PUT", "escape/new.txt"),
        ("PUT", "escape/deeper/new.txt"),
        ("PUT", "dangling"),
        ("PUT", "leak.txt"),
        ("DELETE", "escape/secret.txt"),
        ("DELETE", "escape"),
        ("DELETE", "leak.txt"),
        ("LIST", "escape"),
    ],
)
def test_symlinks_out_of_the_root_are_refused(planted: Site, method: str, path: str) -> None:
    before = snapshot(*planted.watched())
    if method == "LIST":
        response = planted.http.get(ARTIFACTS, params={"path": path})
    else:
        content = b"pwned" if method == "PUT" else None
        response = planted.http.request(method, f"{ARTIFACTS}/{path}", content=content)
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", "out of the root")
    assert SECRET not in response.content
    assert snapshot(*planted.watched()) == before
    assert not (planted.canary / "created-through-link.txt").exists()


def test_a_project_directory_linked_out_of_the_root_is_refused(planted: Site) -> None:
    before = snapshot(*planted.watched())
    prefix = "/projects/evil/api/2.0/mlflow-artifacts/artifacts"
    assert_error(planted.http.get(f"{prefix}/secret.txt"), 400, "INVALID_PARAMETER_VALUE")
    response = planted.http.request("PUT", f"{prefix}/new.txt", content=b"pwned")
    assert_error(response, 400, "INVALID_PARAMETER_VALUE")
    assert_error(planted.http.get(prefix), 400, "INVALID_PARAMETER_VALUE")
    assert_error(
        planted.http.request("DELETE", f"{prefix}/secret.txt"), 400, "INVALID_PARAMETER_VALUE"
    )
    assert snapshot(*planted.watched()) == before


def test_listings_do_not_show_links(planted: Site) -> None:
    put(planted.http, "real.txt", DATA)
    assert listing(planted.http) == [{"path": "real.txt", "is_dir": False, "file_size": len(DATA)}]


def test_deleting_a_directory_removes_links_inside_it_not_their_targets(planted: Site) -> None:
    put(planted.http, "run/model.bin", DATA)
    (planted.project_root / "run" / "out").symlink_to(planted.canary, target_is_directory=True)
    (planted.project_root / "run" / "secret.txt").symlink_to(planted.canary / "secret.txt")
    response = planted.http.request("DELETE", f"{ARTIFACTS}/run")
    assert response.status_code == 200, response.text
    assert not (planted.project_root / "run").exists()
    assert (planted.canary / "secret.txt").read_bytes() == SECRET


# --- round trips, ranges, checksums -------------------------------------------------------------


def test_upload_then_download_with_checksum_headers(site: Site) -> None:
    response = put(site.http, "model/weights.bin", DATA)
    assert response.headers["X-Modelyard-Sha256"] == sha256(DATA)
    assert response.headers["Repr-Digest"] == repr_digest(DATA)
    assert (site.project_root / "model" / "weights.bin").read_bytes() == DATA

    response = site.http.get(f"{ARTIFACTS}/model/weights.bin")
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["Content-Length"] == str(len(DATA))
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["X-Modelyard-Sha256"] == sha256(DATA)
    assert response.headers["Repr-Digest"] == repr_digest(DATA)
    assert sha256(response.content) == response.headers["X-Modelyard-Sha256"]


def test_uploading_again_replaces_the_file_and_its_checksum(site: Site) -> None:
    put(site.http, "a.bin", DATA)
    replacement = DATA[::-1] + b"longer"
    put(site.http, "a.bin", replacement)
    response = site.http.get(f"{ARTIFACTS}/a.bin")
    assert response.content == replacement
    assert response.headers["X-Modelyard-Sha256"] == sha256(replacement)


def test_an_empty_file_round_trips(site: Site) -> None:
    response = put(site.http, "empty.txt", b"")
    assert response.headers["X-Modelyard-Sha256"] == sha256(b"")
    response = site.http.get(f"{ARTIFACTS}/empty.txt")
    assert (response.status_code, response.content) == (200, b"")
    assert listing(site.http) == [{"path": "empty.txt", "is_dir": False, "file_size": 0}]


SIZE = len(DATA)


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, SIZE - 1),
        ("bytes=-5", SIZE - 5, SIZE - 1),
        ("bytes=990-5000", 990, SIZE - 1),
        ("bytes=-5000", 0, SIZE - 1),
        (f"bytes={SIZE - 1}-{SIZE - 1}", SIZE - 1, SIZE - 1),
        (" bytes=3-4 ", 3, 4),
    ],
)
def test_range_requests(site: Site, header: str, first: int, last: int) -> None:
    put(site.http, "data.bin", DATA)
    response = site.http.get(f"{ARTIFACTS}/data.bin", headers={"Range": header})
    assert response.status_code == 206, response.text
    assert response.content == DATA[first : last + 1]
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    assert response.headers["Content-Length"] == str(last + 1 - first)
    assert response.headers["X-Modelyard-Sha256"] == sha256(DATA)  # of the whole representation
    assert response.headers["Repr-Digest"] == repr_digest(DATA)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(f"bytes={SIZE}-", id="starts-at-the-end"),
        pytest.param(f"bytes={SIZE + 10}-{SIZE + 20}", id="past-the-end"),
        pytest.param("bytes=9-3", id="last-before-first"),
        pytest.param("bytes=-0", id="empty-suffix"),
        pytest.param("bytes=-", id="no-numbers"),
        pytest.param("bytes=abc", id="not-numbers"),
        pytest.param("bytes=0-1,4-5", id="several-ranges"),
        pytest.param("items=0-9", id="other-unit"),
        pytest.param("bytes 0-9", id="no-equals-sign"),
        pytest.param("", id="empty"),
    ],
)
def test_unsatisfiable_or_invalid_ranges_are_416(site: Site, header: str) -> None:
    put(site.http, "data.bin", DATA)
    response = site.http.get(f"{ARTIFACTS}/data.bin", headers={"Range": header})
    assert_error(response, 416, "INVALID_PARAMETER_VALUE")
    assert DATA[:16] not in response.content


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}"])
def test_an_unsatisfiable_range_names_the_current_length(site: Site, header: str) -> None:
    """RFC 9110 section 15.5.17: a 416 to a byte range carries ``Content-Range: bytes */length``."""
    put(site.http, "data.bin", DATA)
    response = site.http.get(f"{ARTIFACTS}/data.bin", headers={"Range": header})
    assert response.status_code == 416
    assert response.headers.get("Content-Range") == f"bytes */{SIZE}"


@pytest.mark.parametrize("header", ["bytes=-5", "bytes=-1"])
def test_a_suffix_range_of_an_empty_file_has_a_valid_answer(site: Site, header: str) -> None:
    """Zero bytes cannot be described by a 206's ``Content-Range: bytes first-last/0``: the
    whole (empty) file with 200 (a server may always ignore Range) or a 416 are valid answers."""
    put(site.http, "empty.bin", b"")
    response = site.http.get(f"{ARTIFACTS}/empty.bin", headers={"Range": header})
    content_range = response.headers.get("Content-Range")
    assert response.status_code in (200, 416), (response.status_code, content_range)
    assert response.content == b"" or response.status_code == 416


def test_missing_files_and_directories_are_not_found(site: Site) -> None:
    put(site.http, "dir/a.txt", b"abc")
    for path in ["nothing.txt", "dir", "dir/a.txt/below", "dir/b.txt"]:
        assert_error(site.http.get(f"{ARTIFACTS}/{path}"), 404, "RESOURCE_DOES_NOT_EXIST")
    response = site.http.get(f"{ARTIFACTS}/nothing.txt", headers={"Range": "bytes=0-1"})
    assert_error(response, 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("my model/données ü.txt", id="unicode-and-space"),
        pytest.param("50%/done", id="percent-sign"),
        pytest.param("a+b c.txt", id="plus"),
        pytest.param("q?x=y.txt", id="query-characters"),
        pytest.param("...", id="three-dots"),
        pytest.param("a..b/c...d", id="dots-inside-names"),
        pytest.param("a" * 255, id="segment-of-255-bytes"),
        pytest.param("é" * 127 + "a", id="segment-of-255-bytes-multibyte"),
        pytest.param("/".join(["b" * 255] * 3 + ["b" * 254, "c"]), id="path-of-1024-characters"),
    ],
)
def test_unusual_but_safe_names_round_trip(site: Site, name: str) -> None:
    url = f"{ARTIFACTS}/{quote(name, safe='/')}"
    response = site.http.request("PUT", url, content=DATA)
    assert response.status_code == 200, response.text
    assert (site.project_root / name).read_bytes() == DATA
    assert site.http.get(url).content == DATA
    directory, _, base = name.rpartition("/")
    assert {"path": base, "is_dir": False, "file_size": len(DATA)} in listing(site.http, directory)
    assert site.http.request("DELETE", url).status_code == 200
    assert not (site.project_root / name).exists()


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        pytest.param("%41%42", "AB", id="encoded-letters"),
        pytest.param("x%2520y.txt", "x y.txt", id="double-encoded-space"),
    ],
)
def test_names_are_decoded_until_stable_as_mlflow_stores_them(
    site: Site, sent: str, stored: str
) -> None:
    """MLflow's client sends names unquoted and decodes the names it lists; a name is only
    found again if the server stores it fully decoded."""
    url = f"{ARTIFACTS}/{quote(sent, safe='/')}"
    assert site.http.request("PUT", url, content=DATA).status_code == 200
    assert (site.project_root / stored).read_bytes() == DATA
    assert site.http.get(f"{ARTIFACTS}/{quote(stored)}").content == DATA
    assert {"path": stored, "is_dir": False, "file_size": len(DATA)} in listing(site.http, "")


def test_a_name_with_a_hash_is_refused(site: Site) -> None:
    response = site.http.request("PUT", f"{ARTIFACTS}/{quote('h#ash.txt')}", content=DATA)
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", "'#'")


def test_an_interrupted_upload_leaves_nothing_behind(site: Site) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * (3 * MIB)
        raise ConnectionResetError("the client went away")

    put(site.http, "model/old.bin", DATA)
    for name in ("new.bin", "old.bin"):
        site.http.request("PUT", f"{ARTIFACTS}/model/{name}", content=broken())
        assert sorted(p.name for p in (site.project_root / "model").iterdir()) == ["old.bin"]
    assert site.http.get(f"{ARTIFACTS}/model/old.bin").content == DATA
    assert site.http.get(f"{ARTIFACTS}/model/old.bin").headers["X-Modelyard-Sha256"] == sha256(DATA)


def test_listing_returns_basenames_and_sizes(site: Site) -> None:
    put(site.http, "dir/a.txt", b"abc")
    put(site.http, "dir/sub/b.bin", DATA)
    put(site.http, "top.txt", b"t")
    (site.project_root / "dir" / ".upload-0123456789abcdef").write_bytes(b"partial")

    assert listing(site.http) == [
        {"path": "dir", "is_dir": True},
        {"path": "top.txt", "is_dir": False, "file_size": 1},
    ]
    assert listing(site.http, "dir") == [
        {"path": "a.txt", "is_dir": False, "file_size": 3},
        {"path": "sub", "is_dir": True},
    ]
    assert listing(site.http, "dir/sub/") == [
        {"path": "b.bin", "is_dir": False, "file_size": len(DATA)}
    ]
    assert listing(site.http, "./dir//sub") == listing(site.http, "dir/sub")
    assert listing(site.http, "nowhere") == []
    assert listing(site.http, "top.txt") == []


def test_deleting_a_directory_removes_its_tree(site: Site) -> None:
    put(site.http, "run/model/weights.bin", DATA)
    put(site.http, "run/model/MLmodel", b"flavors: {}")
    put(site.http, "run/metrics.json", b"{}")
    put(site.http, "runner/keep.txt", b"keep")

    response = site.http.request("DELETE", f"{ARTIFACTS}/run")
    assert (response.status_code, response.json()) == (200, {})
    assert not (site.project_root / "run").exists()
    assert listing(site.http) == [{"path": "runner", "is_dir": True}]
    assert_error(site.http.get(f"{ARTIFACTS}/run/metrics.json"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert site.http.get(f"{ARTIFACTS}/runner/keep.txt").content == b"keep"

    put(site.http, "run/metrics.json", b'{"new": 1}')
    response = site.http.get(f"{ARTIFACTS}/run/metrics.json")
    assert response.headers["X-Modelyard-Sha256"] == sha256(b'{"new": 1}')


def test_deleting_a_missing_path_is_harmless(site: Site) -> None:
    put(site.http, "keep.txt", b"keep")
    before = snapshot(*site.watched())
    assert site.http.request("DELETE", f"{ARTIFACTS}/missing/file.txt").status_code == 200
    assert snapshot(*site.watched()) == before


def test_writing_onto_a_directory_or_below_a_file_is_a_clear_400(site: Site) -> None:
    put(site.http, "dir/a.txt", b"abc")
    before = snapshot(*site.watched())
    response = site.http.request("PUT", f"{ARTIFACTS}/dir", content=b"x")
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", "a directory of that name exists")
    response = site.http.request("PUT", f"{ARTIFACTS}/dir/", content=b"x")
    assert_error(response, 400, "INVALID_PARAMETER_VALUE")
    response = site.http.request("PUT", f"{ARTIFACTS}/dir/a.txt/below", content=b"x")
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", "a file stands where a directory")
    assert snapshot(*site.watched()) == before


def test_projects_are_isolated(site: Site) -> None:
    site.container.projects.create("other")
    put(site.http, "shared/default.txt", b"default's")
    put(site.http, "shared/other.txt", b"other's", prefix=OTHER_ARTIFACTS)

    assert (site.root / "other" / "shared" / "other.txt").read_bytes() == b"other's"
    assert (site.root / "default" / "shared" / "default.txt").read_bytes() == b"default's"
    assert not (site.root / "default" / "shared" / "other.txt").exists()

    response = site.http.get(f"{OTHER_ARTIFACTS}/shared/default.txt")
    assert_error(response, 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(site.http.get(f"{ARTIFACTS}/shared/other.txt"), 404, "RESOURCE_DOES_NOT_EXIST")
    response = site.http.get(raw_url(f"{OTHER_ARTIFACTS}/../default/shared/default.txt"))
    assert_error(response, 400, "INVALID_PARAMETER_VALUE")
    assert listing(site.http, "shared", prefix=OTHER_ARTIFACTS) == [
        {"path": "other.txt", "is_dir": False, "file_size": 7}
    ]
    assert site.http.get(f"{OTHER_ARTIFACTS}/shared/other.txt").content == b"other's"

    assert site.http.request("DELETE", f"{OTHER_ARTIFACTS}/shared").status_code == 200
    assert site.http.get(f"{ARTIFACTS}/shared/default.txt").content == b"default's"


def test_a_corrupted_file_never_downloads_whole(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    data = b"".join(hashlib.shake_128(bytes([i])).digest(MIB // 2) for i in range(5))
    put(site.http, "model.bin", data)
    on_disk = site.project_root / "model.bin"
    corrupted = bytearray(data)
    corrupted[MIB : MIB + 4] = bytes(b ^ 0xFF for b in corrupted[MIB : MIB + 4])
    on_disk.write_bytes(bytes(corrupted))

    with caplog.at_level(logging.ERROR, logger="modelyard"):
        response = site.http.get(f"{ARTIFACTS}/model.bin")
    assert len(response.content) < len(data)
    assert response.content != data
    assert response.content == bytes(corrupted)[: len(response.content)]
    assert "corrupted" in caplog.text

    response = site.http.get(f"{ARTIFACTS}/model.bin", headers={"Range": "bytes=0-9"})
    assert (response.status_code, response.content) == (206, data[:10])
    response = site.http.get(f"{ARTIFACTS}/model.bin", headers={"Range": f"bytes={MIB}-"})
    assert (response.status_code, response.content) == (206, bytes(corrupted[MIB:]))


# --- JSON bodies ---------------------------------------------------------------------------------


async def chunked(data: bytes, size: int = 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 10_000 + b"]" * 10_000, id="arrays"),
        pytest.param(b'{"path": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", id="in-a-field"),
        pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, id="objects"),
    ],
)
def test_json_nested_10000_levels_is_refused(site: Site, body: bytes) -> None:
    assert len(body) < JSON_LIMIT
    headers = {"Content-Type": "application/json"}
    response = site.http.request("GET", ARTIFACTS, content=body, headers=headers)
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", "Malformed JSON")
    response = site.http.post("/api/2.0/mlflow/experiments/create", content=body, headers=headers)
    assert_error(response, 400, "INVALID_PARAMETER_VALUE")
    assert site.http.get("/health").status_code == 200
    assert listing(site.http) == []


def test_json_body_over_the_limit_is_413(site: Site) -> None:
    body = orjson.dumps({"path": "x" * JSON_LIMIT})
    response = site.http.request("GET", ARTIFACTS, content=body)
    assert_error(response, 413, "RESOURCE_LIMIT_EXCEEDED", f"limit of {JSON_LIMIT} bytes")
    response = site.http.request("GET", ARTIFACTS, content=chunked(body))
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "RESOURCE_LIMIT_EXCEEDED")
    response = site.http.post("/api/2.0/mlflow/experiments/create", content=body)
    assert_error(response, 413, "RESOURCE_LIMIT_EXCEEDED")
    assert site.http.get("/health").status_code == 200


def test_uploads_are_not_bound_by_the_json_limit(site: Site) -> None:
    data = DATA * (4 * JSON_LIMIT // len(DATA))
    response = put(site.http, "big.bin", data)
    assert response.headers["X-Modelyard-Sha256"] == sha256(data)
    response = site.http.request("PUT", f"{ARTIFACTS}/streamed.bin", content=chunked(data, 7000))
    assert response.status_code == 200, response.text
    assert site.http.get(f"{ARTIFACTS}/streamed.bin").content == data
