"""The generated functions against a real Postgres: every type round-trips, every command behaves."""

from __future__ import annotations

import datetime
import decimal
import ipaddress
import uuid
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

UTC = datetime.UTC


async def _company(gen: Any, conn: psycopg.AsyncConnection[Any], **fields: Any) -> Any:
    values: dict[str, Any] = {
        "name": "Acme",
        "slug": f"acme-{uuid.uuid4().hex[:8]}",
        "email": None,
        "country": None,
        "opens_at": None,
    }
    values.update(fields)
    company = await gen.companies.company_create(conn, **values)
    assert company is not None
    return company


def _job_values(company_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "company_id": company_id,
        "status": "open",
        "small": None,
        "medium": 0,
        "big": None,
        "ratio": None,
        "score": None,
        "is_urgent": False,
        "metadata": {},
        "raw_json": None,
        "payload": None,
        "due_on": None,
        "local_at": None,
        "finished_at": None,
        "ttl": None,
        "client_ip": None,
        "network": None,
        "tags": [],
        "related": None,
        "counts": None,
        "history": None,
        "from_": None,
    }
    values.update(fields)
    return values


async def test_every_type_round_trips_through_insert_returning_and_get(
    gen: Any, conn: psycopg.AsyncConnection[Any]
) -> None:
    company = await _company(gen, conn, email="Boss@Example.com", country="FR", opens_at=datetime.time(9, 30))
    assert isinstance(company, gen.models.Company)
    assert (company.email, company.country, company.opens_at) == (
        "Boss@Example.com",
        "FR",
        datetime.time(9, 30),
    )
    assert company.created_at.tzinfo is not None

    values = _job_values(
        company.id,
        status='it\'s "odd"',
        small=7,
        medium=2_000_000,
        big=2**40,
        ratio=decimal.Decimal("12.3456"),
        score=0.5,
        is_urgent=True,
        metadata={"a": [1, 2], "b": {"c": None}},
        raw_json=[1, "two"],
        payload=b"\x00\xffbytes",
        due_on=datetime.date(2030, 1, 31),
        local_at=datetime.datetime(2030, 1, 31, 12, 0, 1),  # noqa: DTZ001 - a timestamp column is naive
        finished_at=datetime.datetime(2030, 1, 31, 12, 0, 1, tzinfo=UTC),
        ttl=datetime.timedelta(days=2, seconds=5),
        client_ip="192.0.2.7",
        network="10.0.0.0/8",
        tags=["x", "100%"],
        related=[uuid.UUID(int=1), uuid.UUID(int=2)],
        counts=[1, 2**40],
        history=["open", "running"],
        from_="from keyword",
    )
    inserted = await gen.jobs.job_insert(conn, **values)
    assert isinstance(inserted, gen.models.Job)
    assert inserted.status == 'it\'s "odd"'
    assert inserted.seq >= 1
    assert inserted.metadata == {"a": [1, 2], "b": {"c": None}}
    assert inserted.raw_json == [1, "two"]
    assert inserted.payload == b"\x00\xffbytes"
    assert inserted.ratio == decimal.Decimal("12.3456")
    assert inserted.local_at == values["local_at"]
    assert inserted.finished_at == values["finished_at"]
    assert inserted.ttl == datetime.timedelta(days=2, seconds=5)
    assert inserted.client_ip == ipaddress.ip_address("192.0.2.7")
    assert inserted.network == ipaddress.ip_network("10.0.0.0/8")
    assert inserted.related == [uuid.UUID(int=1), uuid.UUID(int=2)]
    assert inserted.counts == [1, 2**40]
    assert inserted.history == "{open,running}"  # enum[] is typed str: psycopg does not know the array type
    assert inserted.doc is None
    assert inserted.from_ == "from keyword"

    fetched = await gen.jobs.job_get(conn, id=values["id"])
    assert fetched == inserted

    as_text = await gen.jobs.job_history_as_text(conn, id=values["id"])
    assert as_text == gen.jobs.JobHistoryAsTextRow(history=["open", "running"], label="a 100% literal")


async def test_one_returns_none_when_no_row(gen: Any, conn: psycopg.AsyncConnection[Any]) -> None:
    assert await gen.jobs.job_get(conn, id=uuid.uuid4()) is None
    assert await gen.companies.company_get_by_email(conn, email="nobody@example.com") is None


async def test_citext_parameter_compares_case_insensitively(
    gen: Any, conn: psycopg.AsyncConnection[Any]
) -> None:
    company = await _company(gen, conn, email="Mixed@Case.io")
    row = await gen.companies.company_get_by_email(conn, email="mixed@case.IO")
    assert row == gen.companies.CompanyGetByEmailRow(id=company.id, name="Acme")


async def test_many_with_nullable_enum_filter_and_row_struct(
    gen: Any, conn: psycopg.AsyncConnection[Any]
) -> None:
    company = await _company(gen, conn)
    first = await gen.jobs.job_insert(conn, **_job_values(company.id))
    second = await gen.jobs.job_insert(conn, **_job_values(company.id, status="running"))
    await gen.ledger_entries.ledger_entry_add(conn, job_id=first.id, amount=decimal.Decimal("1.5"), note=None)
    await gen.ledger_entries.ledger_entry_add(conn, job_id=first.id, amount=decimal.Decimal(2), note="n")

    rows = await gen.jobs.job_list_by_company(conn, company_id=company.id, status=None, lim=10)
    assert rows == [
        gen.jobs.JobListByCompanyRow(id=first.id, status="open", company_name="Acme", n_entries=2),
        gen.jobs.JobListByCompanyRow(id=second.id, status="running", company_name="Acme", n_entries=0),
    ]
    running = await gen.jobs.job_list_by_company(conn, company_id=company.id, status="running", lim=10)
    assert [r.id for r in running] == [second.id]
    assert await gen.jobs.job_list_by_company(conn, company_id=company.id, status=None, lim=1) == rows[:1]

    total = await gen.ledger_entries.ledger_entry_sum(conn, job_id=first.id)
    assert total == gen.ledger_entries.LedgerEntrySumRow(total=decimal.Decimal("3.5"), n=2)


async def test_array_parameters(gen: Any, conn: psycopg.AsyncConnection[Any]) -> None:
    company = await _company(gen, conn)
    a = await gen.jobs.job_insert(conn, **_job_values(company.id, status="completed"))
    b = await gen.jobs.job_insert(conn, **_job_values(company.id, status="running"))
    listed = await gen.jobs.job_list_by_ids(conn, ids=[a.id, b.id, uuid.uuid4()])
    assert listed == [a, b]
    assert await gen.jobs.job_list_by_ids(conn, ids=[]) == []
    ids = await gen.jobs.job_ids_by_status(conn, statuses=["completed", "running"])
    assert {r.id for r in ids} >= {a.id, b.id}


async def test_execrows_returns_rowcount_and_exec_returns_none(
    gen: Any, conn: psycopg.AsyncConnection[Any]
) -> None:
    company = await _company(gen, conn)
    job = await gen.jobs.job_insert(conn, **_job_values(company.id, metadata={"keep": 1}))
    assert await gen.jobs.job_complete(conn, id=job.id) == 1
    assert await gen.jobs.job_complete(conn, id=job.id) == 0
    assert await gen.jobs.job_metadata_merge(conn, patch={"added": "%s"}, id=job.id) is None
    after = await gen.jobs.job_get(conn, id=job.id)
    assert after.status == "completed"
    assert after.metadata == {"keep": 1, "added": "%s"}
    assert await gen.companies.company_rename(conn, name="Renamed", id=company.id) == 1


async def test_embedded_tables_and_unnamed_parameter(gen: Any, conn: psycopg.AsyncConnection[Any]) -> None:
    company = await _company(gen, conn)
    job = await gen.jobs.job_insert(conn, **_job_values(company.id, medium=41))
    row = await gen.jobs.job_with_company(conn, id=job.id)
    assert row == gen.jobs.JobWithCompanyRow(job=job, company=company, two=2)
    above = await gen.jobs.job_count_above(conn, medium=40)
    assert above is not None
    assert above.count >= 1


async def test_copyfrom_inserts_every_row(gen: Any, conn: psycopg.AsyncConnection[Any]) -> None:
    company = await _company(gen, conn)
    params = [
        gen.jobs.JobInsertBatchParams(
            id=uuid.uuid4(),
            company_id=company.id,
            status="running" if i % 2 else "open",
            metadata={"i": i, "quote": "tab\there"},
            tags=[f"t{i}", "a,b", 'q"q'],
            ratio=decimal.Decimal(i) / 4 if i else None,
        )
        for i in range(50)
    ]
    assert await gen.jobs.job_insert_batch(conn, rows=iter(params)) == 50
    listed = await gen.jobs.job_list_by_ids(conn, ids=[p.id for p in params])
    assert [(j.id, j.status, j.metadata, j.tags, j.ratio) for j in listed] == [
        (p.id, p.status, p.metadata, p.tags, p.ratio) for p in params
    ]


async def test_exec_on_table_with_serial_and_all_columns_struct(
    gen: Any, conn: psycopg.AsyncConnection[Any]
) -> None:
    await gen.statuses.status_upsert(conn, code="zz_b", label="B")
    await gen.statuses.status_upsert(conn, code="zz_a", label="A")
    await gen.statuses.status_upsert(conn, code="zz_b", label="B2")
    rows = [r for r in await gen.statuses.status_list(conn) if r.code.startswith("zz_")]
    assert [(r.code, r.label) for r in rows] == [("zz_b", "B2"), ("zz_a", "A")]
    assert all(isinstance(r, gen.models.Status) for r in rows)


async def test_generated_code_never_commits(gen: Any, pg_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_url) as first:
        company = await _company(gen, first)
        await first.rollback()
        assert await gen.companies.company_get_by_email(first, email="x") is None
        async with await psycopg.AsyncConnection.connect(pg_url) as other:
            cur = await other.execute("SELECT count(*) FROM fx.companies WHERE id = %s", (company.id,))
            assert await cur.fetchone() == (0,)


async def test_connection_row_factory_does_not_matter(gen: Any, pg_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_url, row_factory=dict_row) as dconn:
        company = await _company(gen, dconn)
        assert isinstance(company, gen.models.Company)
        rows = await gen.jobs.job_list_by_company(dconn, company_id=company.id, status=None, lim=5)
        assert rows == []
        await dconn.rollback()


@pytest.mark.parametrize("prepare_threshold", [0, None])
async def test_prepared_and_unprepared_statements_agree(
    gen: Any, pg_url: str, prepare_threshold: int | None
) -> None:
    async with await psycopg.AsyncConnection.connect(pg_url, prepare_threshold=prepare_threshold) as c:
        company = await _company(gen, c)
        for _ in range(3):
            assert await gen.jobs.job_get(c, id=company.id) is None
            assert (await gen.companies.company_get_by_email(c, email="none@x")) is None
        await c.rollback()
