"""The command line, in-process through click's CliRunner, on real databases."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy
from click.testing import CliRunner

from modelyard import bootstrap
from modelyard.cli import main
from modelyard.errors import StaleDatabase
from modelyard.services.context import Caller
from modelyard.stores.sql import schema
from tests.conftest import make_settings

NEXT_REVISION = '''
"""a later release adds a column"""
import sqlalchemy as sa
from alembic import op

revision = "0002_test"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("description", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("description")
'''


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_db_upgrade_initialises_then_reports_current(database_url: str) -> None:
    code, output = invoke("db", "upgrade", "--backend-store-uri", database_url)
    assert code == 0 and f"upgraded from revision (empty) to {schema.head_revision()}" in output
    code, output = invoke("db", "upgrade", "--backend-store-uri", database_url)
    assert code == 0 and f"already at revision {schema.head_revision()}" in output


@pytest.fixture
def newer_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Migrations of a later release: this one's plus a revision that adds a column."""
    migrations = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS, migrations)
    head = schema.head_revision()
    (migrations / "versions" / "0002_test.py").write_text(NEXT_REVISION.format(head=head))
    monkeypatch.setattr(schema, "MIGRATIONS", migrations)
    return head


def test_a_stale_database_is_refused_until_upgraded(
    database_url: str, tmp_path: Path, newer_release: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as connection:  # a database made by the previous release
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(schema.MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, newer_release)
    engine.dispose()

    with pytest.raises(StaleDatabase, match="modelyard db upgrade"):
        bootstrap.build(make_settings(database_url, tmp_path))
    monkeypatch.setenv("MODELYARD_BACKEND_STORE_URI", database_url)
    code, output = invoke("server", "--port", "0")
    assert code == 1 and "modelyard db upgrade" in output and "older than this release" in output

    code, output = invoke("db", "upgrade")
    assert code == 0 and f"from revision {newer_release} to 0002_test" in output
    container = bootstrap.build(make_settings(database_url, tmp_path))
    assert container.experiments.get(Caller(), "0").name == "Default"
    container.close()


def test_a_database_from_a_newer_release_is_refused(database_url: str, tmp_path: Path) -> None:
    bootstrap.build(make_settings(database_url, tmp_path)).close()
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    engine.dispose()
    with pytest.raises(StaleDatabase, match="newer release"):
        bootstrap.build(make_settings(database_url, tmp_path))


def test_a_foreign_database_is_not_touched(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    engine.dispose()
    with pytest.raises(StaleDatabase, match="did not create"):
        bootstrap.build(make_settings(url, tmp_path))


def test_projects_create_and_list(sqlite_database: str) -> None:
    code, output = invoke("projects", "create", "vision", "--backend-store-uri", sqlite_database)
    assert code == 0 and "/projects/vision" in output
    code, output = invoke("projects", "create", "vision", "--backend-store-uri", sqlite_database)
    assert code == 1 and "already exists" in output
    code, output = invoke("projects", "create", "Bad Name", "--backend-store-uri", sqlite_database)
    assert code == 1 and "Invalid project name" in output
    code, output = invoke("projects", "list", "--backend-store-uri", sqlite_database)
    assert output.split() == ["default", "vision"]


def test_bad_settings_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_WORKERS", "many")
    code, output = invoke("server")
    assert code == 1 and "workers" in output
    code, output = invoke("db", "upgrade", "--backend-store-uri", "mysql://x/y")
    assert code == 1 and "unsupported database" in output


def test_a_busy_port_is_a_clear_error(sqlite_database: str) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        code, output = invoke("server", "--port", port, "--backend-store-uri", sqlite_database)
    assert code == 1 and f"cannot listen on 127.0.0.1:{port}" in output


def test_version_and_module_entry_point() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "modelyard", "--version"], capture_output=True, text=True, check=True
    )
    assert "version" in result.stdout


def test_serve_without_the_serving_extra_names_the_install() -> None:
    # numpy made unimportable, as on an install without modelyard[serve].
    code = (
        "import sys; sys.modules['numpy'] = None; "
        "from modelyard.cli import main; main(['serve', 'models:/m/1'])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "numpy is missing" in done.stderr and "pip install 'modelyard[serve]'" in done.stderr
