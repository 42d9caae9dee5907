"""Engine types are declared once, by their engine classes; everything else derives from that.

The registry lists the classes; the API's ``type`` enum, the connection service's validation,
the dialect of a connection and the docs' table of types all follow from the declarations.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from sqlgate.engines import registry
from sqlgate.engines.base import ConnectionSpec, Engine, Started
from sqlgate.engines.registry import CONNECTION_TYPES, ENGINE_TYPES, dialect_for, engine_class
from sqlgate.errors import ValidationError
from sqlgate.services import connections as connection_service
from sqlgate.settings import Settings
from sqlgate.sql.guard import DIALECTS
from sqlgate.vocabulary.schema import DatabaseSchema
from tests.conftest import Env, open_env

ROOT = Path(__file__).resolve().parents[2]
ENGINES = [engine_class(name) for name in CONNECTION_TYPES]


@pytest.mark.parametrize("name", CONNECTION_TYPES)
def test_each_type_is_declared_by_its_class(name: str) -> None:
    cls = engine_class(name)
    assert issubclass(cls, Engine) and not inspect.isabstract(cls)
    assert cls.type == name and cls.summary
    assert cls.location in ("file", "server", "url")
    if cls.location == "server":
        assert cls.default_port and cls.ssl_modes
    else:
        assert cls.default_port is None and cls.ssl_modes == ()
    if cls.location == "url":
        assert cls.dialect_of("postgresql+psycopg://h/db") == "postgres"
    else:
        # The guard holds a deny-list for the dialect (it follows the dialect, not the engine).
        assert cls.dialect in DIALECTS and dialect_for(name, None) == cls.dialect


def test_the_api_accepts_exactly_the_declared_types(env: Env) -> None:
    schema = env.client.get("/openapi.json").json()["components"]["schemas"]
    assert schema["ConnectionCreate"]["properties"]["type"]["enum"] == list(CONNECTION_TYPES)


def test_the_api_describes_the_declared_ports_and_tls_modes(env: Env) -> None:
    """The field descriptions are prose written once in api/connections.py (deriving them would
    import every driver when the app starts); this keeps them in step with the classes."""
    schema = env.client.get("/openapi.json").json()["components"]["schemas"]
    fields = schema["ConnectionCreate"]["properties"]
    servers = [cls for cls in ENGINES if cls.location == "server"]
    for cls in servers:
        assert str(cls.default_port) in fields["port"]["description"]
        assert ", ".join(cls.ssl_modes) in fields["ssl_mode"]["description"]


def test_the_api_schema_refuses_server_fields_on_exactly_the_file_types(env: Env) -> None:
    """The schema's file-only rule names its types in api/connections.py, for the same reason;
    this keeps it to the classes that declare ``location = "file"``."""
    schema = env.client.get("/openapi.json").json()["components"]["schemas"]
    (rule,) = schema["ConnectionCreate"]["allOf"]
    files = sorted(cls.type for cls in ENGINES if cls.location == "file")
    assert sorted(rule["if"]["properties"]["type"]["enum"]) == files


def _docs_row(cls: type[Engine]) -> str:
    fields = {
        "file": "`database`: path under a data root",
        "server": f"`host`, `port` ({cls.default_port}), `database`, `username`, `password`, "
        "`ssl_mode`",
        "url": "`url` (and optionally `password`)",
    }[cls.location]
    return f"| `{cls.type}` | {cls.summary} | {fields} |"


def test_the_docs_table_of_types_is_the_declarations() -> None:
    text = (ROOT / "docs" / "connections.md").read_text(encoding="utf-8")
    documented = [line for line in text.splitlines() if re.match(r"\| `\w+` \| ", line)]
    expected = [_docs_row(cls) for cls in ENGINES]
    assert documented == expected, "docs/connections.md, table of types:\n" + "\n".join(expected)


def test_the_readme_lists_the_types() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"`type` \(((?:`\w+`(?:, )?)+)\)", text)
    assert listed is not None
    assert sorted(re.findall(r"`(\w+)`", listed.group(1))) == sorted(CONNECTION_TYPES)


# --- a new type is one class and one line in the registry ------------------------------------


class FakeServerEngine(Engine):
    """A throwaway server type, declared like the real ones."""

    type = "fakedb"
    summary = "a pretend server"
    dialect = "postgres"
    location = "server"
    default_port = 15432
    ssl_modes = ("plain", "tls")
    parameter_style = ":name"
    opened: list[ConnectionSpec] = []

    def __init__(self, spec: ConnectionSpec) -> None:
        super().__init__()
        self.opened.append(spec)

    @classmethod
    def from_spec(cls, spec: ConnectionSpec, settings: Settings) -> FakeServerEngine:
        return cls(spec)

    def _start(self, *args: Any, **kwargs: Any) -> Started:
        raise NotImplementedError

    def _read_schema(self) -> DatabaseSchema:
        return DatabaseSchema(())

    def close(self) -> None:
        pass


@pytest.fixture
def with_fake_type(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    types: Mapping[str, str] = MappingProxyType(
        {**ENGINE_TYPES, "fakedb": f"{__name__}:FakeServerEngine"}
    )
    # The one line a new type adds (CONNECTION_TYPES is read from it once, at import).
    monkeypatch.setattr(registry, "ENGINE_TYPES", types)
    monkeypatch.setattr(connection_service, "CONNECTION_TYPES", tuple(types))
    engine_class.cache_clear()
    yield
    engine_class.cache_clear()


@pytest.mark.usefixtures("with_fake_type")
def test_a_new_type_is_validated_and_opened_from_its_declarations(env: Env) -> None:
    service, org_id = env.org.services.connections, env.org.id
    with pytest.raises(ValidationError, match="must be one of: plain, tls"):
        service.create(
            org_id, name="f0", type="fakedb", host="db", database="d", username="u", ssl_mode="x"
        )
    with pytest.raises(ValidationError, match="`host` must be"):
        service.create(org_id, name="f1", type="fakedb", database="d", username="u")
    info = service.create(
        org_id, name="f2", type="fakedb", host="db", database="d", username="u", ssl_mode="tls"
    )
    assert info.port == 15432 and info.dialect == "postgres"
    assert FakeServerEngine.opened[-1].port == 15432
    service.delete(org_id, info.id)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(tmp_path_factory.mktemp("declarations"))
