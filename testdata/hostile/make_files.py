"""Writes the binary files of the hostile corpus: small Parquet files (and bytes that only
pretend to be Parquet) under `<case>/project/`. Seeded: every run writes the same bytes.

    .venv/bin/python testdata/hostile/make_files.py

Most files are rows of the corpus's small product `t`: `g` (string), `at` (timestamp),
`q` (int64); where a case succeeds, its `case.yaml` states the numbers a correct product
gives on them, counted by hand from the rows written below.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import struct
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
BIG = 2**62
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
U64_MAX = 2**64 - 1


def day(i: int) -> dt.datetime:
    return dt.datetime(2024, 1, 1) + dt.timedelta(days=i)


def parquet(table: pa.Table, **options: object) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **options)
    return sink.getvalue()


def t(q: list[int], g: list[str] | None = None, q_type: pa.DataType | None = None) -> bytes:
    """Rows of `t`, one a day from 2024-01-01."""
    g = g or ["a"] * len(q)
    return parquet(
        pa.table(
            {
                "g": pa.array(g, pa.string()),
                "at": pa.array([day(i) for i in range(len(q))], pa.timestamp("us")),
                "q": pa.array(q, q_type or pa.int64()),
            }
        )
    )


def without_q(n: int) -> bytes:
    return parquet(pa.table({"g": pa.array(["a"] * n), "at": pa.array([day(i) for i in range(n)], pa.timestamp("us"))}))


def column(name: str, values: list[object], type_: pa.DataType) -> Callable[[], bytes]:
    """One column `name` beside `g` and `at`."""

    def make() -> bytes:
        n = len(values)
        return parquet(
            pa.table(
                {
                    "g": pa.array(["a"] * n),
                    "at": pa.array([day(i) for i in range(n)], pa.timestamp("us")),
                    name: pa.array(values, type_),
                }
            )
        )

    return make


def duplicate_columns() -> bytes:
    n = 2
    return parquet(
        pa.Table.from_arrays(
            [
                pa.array(["a", "a"]),
                pa.array([day(i) for i in range(n)], pa.timestamp("us")),
                pa.array([1, 2], pa.int64()),
                pa.array([100, 200], pa.int64()),
            ],
            names=["g", "at", "q", "q"],
        )
    )


def timestamps(unit: str, tz: str | None, at: list[dt.datetime], q: list[int]) -> Callable[[], bytes]:
    def make() -> bytes:
        return parquet(pa.table({"g": pa.array(["a"] * len(q)), "at": pa.array(at, pa.timestamp(unit, tz=tz)), "q": q}))

    return make


def dictionary_strings() -> bytes:
    g = pa.array(["a", "b", "a", "c"]).dictionary_encode()
    return parquet(
        pa.table({"g": g, "at": pa.array([day(i) for i in range(4)], pa.timestamp("us")), "q": [1, 2, 4, 8]})
    )


def zero_rows() -> bytes:
    return t([])


def not_utf8() -> bytes:
    """A string column whose bytes are not UTF-8 (0xff 0xfe), written without a check."""
    offsets = pa.py_buffer(struct.pack("<3i", 0, 1, 3))
    data = pa.py_buffer(b"a\xff\xfe")
    g = pa.Array.from_buffers(pa.string(), 2, [None, offsets, data])
    return parquet(pa.table({"g": g, "at": pa.array([day(0), day(1)], pa.timestamp("us")), "q": [1, 2]}))


def far_timestamp() -> bytes:
    """A millisecond timestamp about 285,000 years ahead: in microseconds it overflows int64."""
    at = pa.array([0, 9_000_000_000_000_000], pa.int64()).cast(pa.timestamp("ms"))
    return parquet(pa.table({"g": pa.array(["a", "a"]), "at": at, "q": [1, 2]}))


def footer_lies() -> bytes:
    """`PAR1`, 16 bytes, a metadata length of 2^31 - 1, `PAR1`: 28 bytes in all."""
    return b"PAR1" + bytes(16) + struct.pack("<I", 0x7FFF_FFFF) + b"PAR1"


def garbage(n: int) -> Callable[[], bytes]:
    def make() -> bytes:
        rng = random.Random(n)
        return bytes(rng.randrange(256) for _ in range(n))

    return make


def garbage_footer() -> bytes:
    """Right magic and a right length, but the metadata is not Thrift."""
    rng = random.Random(45)
    meta = bytes(rng.randrange(256) for _ in range(64))
    return b"PAR1" + meta + struct.pack("<I", len(meta)) + b"PAR1"


def truncated() -> bytes:
    whole = t(list(range(1, 201)))
    return whole[: len(whole) // 2]


def corrupt_pages() -> bytes:
    """A valid footer over data pages overwritten with junk: only reading the rows finds it."""
    n = 500
    whole = parquet(
        pa.table(
            {
                "g": pa.array(["a"] * n),
                "at": pa.array([day(i % 300) for i in range(n)], pa.timestamp("us")),
                "q": pa.array(range(n), pa.int64()),
            }
        ),
        compression="NONE",
        use_dictionary=False,
    )
    meta = pq.read_metadata(io.BytesIO(whole))
    chunk = meta.row_group(0).column(2)
    start = chunk.data_page_offset
    rng = random.Random(46)
    junk = bytes(rng.randrange(256) for _ in range(chunk.total_compressed_size))
    return whole[:start] + junk + whole[start + len(junk) :]


def bookings() -> bytes:
    """The table of the corpus's MetricFlow manifest: six bookings, one a day."""
    return parquet(
        pa.table(
            {
                "booking_id": pa.array(range(1, 7), pa.int64()),
                "ds": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(6)], pa.date32()),
                "is_instant": pa.array([True, False] * 3),
                "booking_value": pa.array([10, 20, 30, 40, 50, 60], pa.int64()),
            }
        )
    )


def decimals() -> bytes:
    v = Decimal(6 * 10**37)
    return column("d", [v, v], pa.decimal128(38, 0))()


def floats() -> bytes:
    """Group a: 1e308, 1e308, -1e308 (exact sum 1e308); group b: 1e16, 1, -1e16 (exact sum 1)."""
    x = [1e308, 1e308, -1e308, 1e16, 1.0, -1e16]
    return parquet(
        pa.table(
            {
                "g": pa.array(["a", "a", "a", "b", "b", "b"]),
                "at": pa.array([day(i) for i in range(6)], pa.timestamp("us")),
                "x": pa.array(x, pa.float64()),
            }
        )
    )


def huge_floats() -> bytes:
    """Group a: 1.7e308 twice; group b: -1.7e308 and 1.7e308."""
    return parquet(
        pa.table(
            {
                "g": pa.array(["a", "a", "b", "b"]),
                "at": pa.array([day(i) for i in range(4)], pa.timestamp("us")),
                "x": pa.array([1.7e308, 1.7e308, -1.7e308, 1.7e308], pa.float64()),
            }
        )
    )


#: (case, path below its project/, the bytes)
FILES: list[tuple[str, str, Callable[[], bytes]]] = [
    ("001-sum-overflows-int64", "tdata/t/a.parquet", lambda: t([BIG, BIG, 1], ["a", "a", "b"])),
    ("002-sum-partials-overflow-total-fits", "tdata/t/a.parquet", lambda: t([BIG, BIG, -BIG, -BIG, 5])),
    ("003-product-overflows-in-rows", "tdata/t/a.parquet", lambda: t([BIG, 3], ["a", "b"])),
    ("007-cumulative-sum-overflows", "tdata/t/a.parquet", lambda: t([BIG, BIG, 1])),
    ("030-float-sum-exact-past-overflow", "tdata/t/a.parquet", floats),
    ("031-float-avg-exact-past-overflow", "tdata/t/a.parquet", floats),
    ("032-percentile-interpolation-overflow", "tdata/t/a.parquet", huge_floats),
    ("033-int32-sum-widens-exact", "tdata/t/a.parquet", lambda: t([2**31 - 1] * 3, q_type=pa.int32())),
    ("008-uint64-max-sums-exactly", "tdata/t/a.parquet", column("u", [U64_MAX], pa.uint64())),
    ("009-uint64-sum-overflows", "tdata/t/a.parquet", column("u", [2**63, 2**63], pa.uint64())),
    ("010-int64-min-max-exact", "tdata/t/a.parquet", lambda: t([I64_MIN, I64_MAX, 0])),
    ("011-avg-of-huge-ints-exact", "tdata/t/a.parquet", lambda: t([BIG, BIG, BIG])),
    ("012-decimal38-sum-past-precision", "tdata/t/a.parquet", decimals),
    ("013-file-missing-contract-column", "tdata/t/a.parquet", lambda: t([1, 2])),
    ("013-file-missing-contract-column", "tdata/t/b.parquet", lambda: without_q(2)),
    ("014-file-missing-column-compute", "tdata/t/a.parquet", lambda: t([1, 2])),
    ("014-file-missing-column-compute", "tdata/t/b.parquet", lambda: without_q(2)),
    ("016-file-in-subfolder", "tdata/t/a.parquet", lambda: t([1])),
    ("016-file-in-subfolder", "tdata/t/2024/b.parquet", lambda: t([2])),
    ("017-duplicate-column-names", "tdata/t/a.parquet", duplicate_columns),
    ("018-one-file-other-type", "tdata/t/a.parquet", lambda: t([1, 2])),
    ("018-one-file-other-type", "tdata/t/b.parquet", lambda: t([3], q_type=pa.int32())),
    ("019-contract-type-mismatch", "tdata/t/a.parquet", lambda: t([1, 2], q_type=pa.int32())),
    (
        "020-mixed-timestamp-units-exact",
        "tdata/t/a.parquet",
        timestamps("ms", None, [dt.datetime(2024, 1, 15), dt.datetime(2024, 2, 15)], [1, 2]),
    ),
    (
        "020-mixed-timestamp-units-exact",
        "tdata/t/b.parquet",
        timestamps("ns", "UTC", [dt.datetime(2024, 1, 20), dt.datetime(2024, 3, 1)], [10, 100]),
    ),
    ("021-dictionary-strings-exact", "tdata/t/a.parquet", dictionary_strings),
    ("022-zero-row-file-exact", "tdata/t/a.parquet", zero_rows),
    ("022-zero-row-file-exact", "tdata/t/b.parquet", lambda: t([3, 4])),
    ("023-partition-column-shadows-file-column", "tdata/t/q=1000/a.parquet", lambda: t([1, 2])),
    ("028-hidden-files-in-folder", "tdata/t/a.parquet", lambda: t([1])),
    ("028-hidden-files-in-folder", "tdata/t/_b.parquet", lambda: t([10])),
    ("028-hidden-files-in-folder", "tdata/t/.c.parquet", lambda: t([100])),
    ("044-footer-length-lies", "tdata/t/a.parquet", lambda: t([1])),
    ("044-footer-length-lies", "tdata/t/b.parquet", footer_lies),
    ("045-footer-lies-in-sample-orders", "data/orders/month=2025-12/part-1.parquet", footer_lies),
    ("046-truncated-parquet", "tdata/t/a.parquet", truncated),
    ("048-garbage-named-parquet", "tdata/t/a.parquet", garbage(2048)),
    ("049-footer-metadata-garbage", "tdata/t/a.parquet", garbage_footer),
    ("050-corrupt-data-pages", "tdata/t/a.parquet", corrupt_pages),
    ("051-only-magic-bytes", "tdata/t/a.parquet", lambda: b"PAR1"),
    ("064-non-utf8-string-values", "tdata/t/a.parquet", not_utf8),
    ("065-timestamp-out-of-range", "tdata/t/a.parquet", far_timestamp),
    ("077-fifo-beside-a-file-in-folder", "tdata/t/a.parquet", lambda: t([1])),
    ("079-symlink-to-dev-zero-in-folder", "tdata/t/a.parquet", lambda: t([1])),
    ("069-non-utf8-data-file-name", "tdata/t/a.parquet", lambda: t([1])),
    ("080-symlink-loop-in-folder", "tdata/t/a.parquet", lambda: t([1])),
    ("104-output-kept-on-overflow", "tdata/t/a.parquet", lambda: t([BIG, BIG])),
    ("125-bad-hive-partition-value", "tdata/t/day=2024-13-45/a.parquet", lambda: t([1])),
    ("126-bad-hive-partition-integer", "tdata/t/n=abc/a.parquet", lambda: t([1])),
]

MF_CASES = [
    "063-mf-plus-chain",
    "130-mf-limit-huge",
    "131-mf-order-by-not-a-name",
    "157-mf-where-random",
    "158-mf-where-now",
    "159-mf-where-subquery",
    "160-mf-template-and-random",
    "166-mf-measure-random",
    "167-mf-metric-filter-now",
    "177-billion-laughs-mf-manifest",
    "096-mf-manifest-file-dev-zero",
]
FILES += [(case, "tables/fct_bookings.parquet", bookings) for case in MF_CASES]


def main() -> None:
    for case, rel, make in FILES:
        path = HERE / case / "project" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = make()
        assert len(data) < 20_000, (case, rel, len(data))
        path.write_bytes(data)
    print(f"wrote {len(FILES)} files")


if __name__ == "__main__":
    main()
