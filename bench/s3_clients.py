"""aiobotocore against obstore: the S3 client the S3 file storage is built on (ADR 0006).

Against a moto server on this machine (`tests/support/s3_server.py`, which checks presigned
URLs as S3 does), for each client:

1. import time of the client module, `python -c "import ..."` in a fresh process, minus
   `python -c pass`; medians over interleaved rounds;
2. in a fresh worker process per run: a streaming multipart upload of `--size-mib` MiB from
   an async iterator of 64 KiB chunks, in 8 MiB parts (throughput, and the peak growth of
   the process's RSS, sampled every 5 ms, over its RSS before the upload); 20 ranged reads
   of 1 MiB (median latency); 2,000 presigned PUT URLs (cost per call);
3. once, what the file storage needs, tried for real: a presigned PUT that pins
   Content-Length and Content-Type (another length or type refused), a presigned GET with
   response-content-type and response-content-disposition overrides, no multipart upload
   left behind when the chunks raise, and listing by a prefix that ends inside a segment
   (`files/ab` finds `files/abc`).

aiobotocore is measured through `S3FileStorage` itself, the adapter built on it, which sends
the parts one after the other; obstore through its own `put_async`, at its default of 12
parts at once and, for a like-for-like figure, at 1. There is no target: the figures chose
the client, and the script exits 1 only if the chosen one (aiobotocore) no longer does all
of (3).

    .venv/bin/python bench/s3_clients.py [--rounds 3] [--size-mib 64]
"""

import argparse
import asyncio
import hashlib
import json
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import httpx
import psutil
from aiobotocore.session import get_session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, s3_server

from adapters.s3.file_storage import S3FileStorage
from application.files.ports import ByteRange
from domain.files.values import Sha256Digest

MIB = 1024 * 1024
PART_BYTES = 8 * MIB
CHUNK_BYTES = 64 * 1024
RANGE_BYTES = MIB
RANGED_READS = 20
PRESIGN_CALLS = 2000
BUCKET = "bench-s3-clients"
CHOSEN = "aiobotocore"
VARIANTS = ("aiobotocore", "obstore", "obstore-1")
"""Worker variants: obstore at its default concurrency of 12 parts, and at one."""
IMPORTS = {
    "python -c pass": "pass",
    "aiobotocore": "import aiobotocore.session",
    "obstore": "import obstore.store",
}
NEEDS = (
    "presigned PUT pins Content-Length and Content-Type",
    "presigned GET overrides Content-Type and Content-Disposition",
    "no multipart upload left when the chunks raise",
    "listing by a prefix ending inside a segment",
)


def attachment(download_name: str) -> str:
    """The Content-Disposition the file storage wants downloads to carry."""
    return f"attachment; filename*=UTF-8''{quote(download_name, safe='')}"


class ChunksFailedError(Exception):
    """Raised by the chunk iterator of the abort probe, as a refused upload would."""


async def chunks_of(total: int, *, fail_after: int | None = None) -> AsyncIterator[bytes]:
    """`total` bytes in fresh 64 KiB chunks, like a request body; raises after `fail_after`."""
    block = bytearray(random.Random(7).randbytes(CHUNK_BYTES))
    sent = 0
    while sent < total:
        if fail_after is not None and sent >= fail_after:
            raise ChunksFailedError
        size = min(CHUNK_BYTES, total - sent)
        sent += size
        yield bytes(block[:size])


class PeakRss:
    """Samples this process's RSS in a thread every 5 ms while in use; keeps the highest."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.before = self._process.memory_info().rss
        self.peak = self.before
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth_mib(self) -> float:
        """How far the RSS rose above where it was before."""
        return (self.peak - self.before) / MIB


@dataclass
class Client:
    """One library's way of doing each measured operation."""

    upload: Callable[[str, AsyncIterator[bytes]], Awaitable[None]]
    read_range: Callable[[str, int, int], Awaitable[bytes]]
    presign_put: Callable[[str, bytes, str], Awaitable[tuple[str, dict[str, str]]]]
    presign_get_with_overrides: Callable[[str, str, str], Awaitable[str]]
    list_keys: Callable[[str], Awaitable[list[str]]]


PRESIGNED_BODY = bytes(1000)
"""What the presigning cost is measured for: its digest is computed once per call."""


async def aiobotocore_client(stack: AsyncExitStack, endpoint: str) -> Client:
    """aiobotocore as the adapter uses it: `S3FileStorage` itself, parts one at a time."""
    storage = S3FileStorage(
        bucket=BUCKET,
        region=REGION,
        endpoint_url=endpoint,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        part_size=PART_BYTES,
    )
    stack.push_async_callback(storage.close)
    await storage.stat("warm-up")  # makes the client, as the first request of a process does

    async def upload(key: str, chunks: AsyncIterator[bytes]) -> None:
        await storage.put(key, chunks, content_type="application/octet-stream")

    async def read_range(key: str, start: int, length: int) -> bytes:
        byte_range = ByteRange(start, start + length - 1)
        return b"".join([chunk async for chunk in storage.read(key, byte_range=byte_range)])

    async def presign_put(key: str, body: bytes, content_type: str) -> tuple[str, dict[str, str]]:
        signed = await storage.presign_put(
            key,
            size=len(body),
            content_type=content_type,
            sha256=Sha256Digest(hashlib.sha256(body).hexdigest()),
            expires_in=timedelta(seconds=300),
        )
        assert signed is not None
        return signed.url, dict(signed.headers)

    async def presign_get_with_overrides(key: str, content_type: str, download_name: str) -> str:
        url = await storage.presign_get(
            key,
            content_type=content_type,
            download_name=download_name,
            expires_in=timedelta(seconds=300),
        )
        assert url is not None
        return url

    async def list_keys(prefix: str) -> list[str]:
        return [stored.key async for stored in storage.objects(prefix)]

    return Client(upload, read_range, presign_put, presign_get_with_overrides, list_keys)


def obstore_client(endpoint: str, *, max_concurrency: int) -> Client:
    """`put_async` from the async iterator; signing knows only a method, a path and a time."""
    import obstore  # noqa: PLC0415 - each worker imports only the library it measures
    from obstore.store import S3Store  # noqa: PLC0415

    store = S3Store(
        BUCKET,
        endpoint=endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )

    async def upload(key: str, chunks: AsyncIterator[bytes]) -> None:
        await obstore.put_async(
            store,
            key,
            chunks,
            chunk_size=PART_BYTES,
            max_concurrency=max_concurrency,
            use_multipart=True,
        )

    async def read_range(key: str, start: int, length: int) -> bytes:
        return bytes(await obstore.get_range_async(store, key, start=start, length=length))

    async def presign_put(key: str, _body: bytes, content_type: str) -> tuple[str, dict[str, str]]:
        signed = obstore.sign(store, "PUT", key, timedelta(seconds=300))
        return signed, {"Content-Type": content_type}

    async def presign_get_with_overrides(key: str, content_type: str, download_name: str) -> str:
        signed = obstore.sign(store, "GET", key, timedelta(seconds=300))
        disposition = attachment(download_name)
        overrides = httpx.QueryParams(
            {"response-content-type": content_type, "response-content-disposition": disposition}
        )
        return f"{signed}&{overrides}"

    async def list_keys(prefix: str) -> list[str]:
        keys: list[str] = []
        async for batch in obstore.list(store, prefix):
            keys.extend(item["path"] for item in batch)
        return keys

    return Client(upload, read_range, presign_put, presign_get_with_overrides, list_keys)


async def probe(client: Client, prefix: str) -> dict[str, bool]:
    """Try each need of the file storage against the server; True where it was met."""
    met: dict[str, bool] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        url, headers = await client.presign_put(f"{prefix}/pinned", b"12345", "image/png")
        signed = {name: value for name, value in headers.items() if name != "Content-Length"}
        right = await http.put(url, content=b"12345", headers=signed)
        longer = await http.put(url, content=b"123456", headers=signed)
        other_type = await http.put(
            url, content=b"12345", headers={**signed, "Content-Type": "text/html"}
        )
        met[NEEDS[0]] = (right.status_code, longer.status_code, other_type.status_code) == (
            200,
            403,
            403,
        )
        url = await client.presign_get_with_overrides(
            f"{prefix}/pinned", "application/pdf", "résumé.pdf"
        )
        got = await http.get(url)
        met[NEEDS[1]] = (
            got.status_code == 200
            and got.headers.get("content-type") == "application/pdf"
            and got.headers.get("content-disposition") == attachment("résumé.pdf")
        )
    for name in ("abc", "abd/1", "other"):
        await client.upload(f"{prefix}/list/{name}", chunks_of(10))
    met[NEEDS[3]] = len(await client.list_keys(f"{prefix}/list/ab")) == 2
    try:
        await client.upload(f"{prefix}/aborted", chunks_of(20 * MIB, fail_after=18 * MIB))
    except ChunksFailedError:
        await asyncio.sleep(1)  # obstore's parts in flight finish after it raised
    return met


async def leftovers(endpoint: str, prefix: str) -> int:
    """Multipart uploads in progress, and objects, under `prefix/aborted`."""
    key = f"{prefix}/aborted"
    async with get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    ) as s3:
        uploads = await s3.list_multipart_uploads(Bucket=BUCKET, Prefix=key)
        objects = await s3.list_objects_v2(Bucket=BUCKET, Prefix=key)
    return len(uploads.get("Uploads", [])) + len(objects.get("Contents", []))


async def worker(variant: str, endpoint: str, size: int, *, with_probe: bool) -> dict[str, Any]:
    """One run of one variant in this fresh process: its figures, and its needs if probed."""
    async with AsyncExitStack() as stack:
        started = time.perf_counter()
        if variant == "aiobotocore":
            client = await aiobotocore_client(stack, endpoint)
        else:
            client = obstore_client(endpoint, max_concurrency=1 if variant == "obstore-1" else 12)
        client_seconds = time.perf_counter() - started
        prefix = f"{variant}/{uuid.uuid4().hex}"
        await client.upload(f"{prefix}/warm-up", chunks_of(1024))
        with PeakRss() as rss:
            started = time.perf_counter()
            await client.upload(f"{prefix}/big", chunks_of(size))
            upload_seconds = time.perf_counter() - started
        offsets = random.Random(11).sample(range(0, size - RANGE_BYTES, 4096), RANGED_READS)
        read_seconds = []
        for offset in offsets:
            started = time.perf_counter()
            data = await client.read_range(f"{prefix}/big", offset, RANGE_BYTES)
            read_seconds.append(time.perf_counter() - started)
            assert len(data) == RANGE_BYTES
        started = time.perf_counter()
        for number in range(PRESIGN_CALLS):
            await client.presign_put(f"{prefix}/direct/{number}", PRESIGNED_BODY, "image/png")
        presign_seconds = (time.perf_counter() - started) / PRESIGN_CALLS
        met = await probe(client, prefix) if with_probe else {}
    return {
        "prefix": prefix,
        "client_ms": client_seconds * 1000,
        "upload_mib_s": size / MIB / upload_seconds,
        "rss_growth_mib": rss.growth_mib,
        "range_ms": statistics.median(read_seconds) * 1000,
        "presign_us": presign_seconds * 1_000_000,
        "met": met,
    }


def import_medians(rounds: int) -> dict[str, float]:
    """Median seconds of each import in a fresh interpreter, rounds interleaved."""
    samples: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for round_number in range(rounds + 1):
        for name, statement in IMPORTS.items():
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", statement], check=True)
            if round_number:  # the first round warms the page cache and the bytecode
                samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(times) for name, times in samples.items()}


def run_worker(variant: str, endpoint: str, size: int, *, with_probe: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", variant, "--endpoint", endpoint]
    command += ["--size-mib", str(size // MIB)] + (["--probe"] if with_probe else [])
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


async def make_bucket(endpoint: str) -> None:
    storage = S3FileStorage(
        bucket=BUCKET,
        region=REGION,
        endpoint_url=endpoint,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
    )
    try:
        await storage.ensure_bucket()
    finally:
        await storage.close()


def report(imports: dict[str, float], runs: dict[str, list[dict[str, Any]]]) -> bool:
    """Print the figures; True if the chosen client met every need."""
    floor = imports["python -c pass"]
    print(f"\nimport, median over interleaved rounds (python -c pass: {floor * 1000:.0f} ms)")
    for name in ("aiobotocore", "obstore"):
        print(f"  {name:<12} +{(imports[name] - floor) * 1000:5.0f} ms")
    print(f"\nmedians over {len(runs[CHOSEN])} fresh processes each")
    print(
        f"  {'client':<12} {'first client':>12} {'upload MiB/s':>13} {'peak RSS +MiB':>14} "
        f"{'1 MiB range':>12} {'presign PUT':>12}"
    )
    for variant, measured in runs.items():

        def median(name: str, measured: list[dict[str, Any]] = measured) -> float:
            return float(statistics.median(run[name] for run in measured))

        print(
            f"  {variant:<12} {median('client_ms'):9.1f} ms {median('upload_mib_s'):13.1f} "
            f"{median('rss_growth_mib'):14.1f} {median('range_ms'):9.1f} ms "
            f"{median('presign_us'):9.1f} us"
        )
    print("\nneeds of the file storage")
    chosen_met = True
    for variant, measured in runs.items():
        met = measured[0]["met"]
        for need in NEEDS:
            print(f"  {variant:<12} {'yes' if met[need] else 'NO ':<4} {need}")
            chosen_met = chosen_met and (met[need] or variant != CHOSEN)
    return chosen_met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = args.size_mib * MIB
    if args.worker:
        result = asyncio.run(worker(args.worker, args.endpoint, size, with_probe=args.probe))
        print(json.dumps(result))
        return
    imports = import_medians(max(args.rounds, 5))
    runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in VARIANTS}
    with s3_server() as endpoint:
        asyncio.run(make_bucket(endpoint))
        for round_number in range(args.rounds):
            for variant in VARIANTS:
                result = run_worker(variant, endpoint, size, with_probe=round_number == 0)
                if round_number == 0:
                    abandoned = asyncio.run(leftovers(endpoint, result["prefix"]))
                    result["met"][NEEDS[2]] = abandoned == 0
                runs[variant].append(result)
                print(
                    f"round {round_number + 1} {variant:<12} "
                    f"{result['upload_mib_s']:6.1f} MiB/s, RSS +{result['rss_growth_mib']:.1f} MiB"
                )
    if not report(imports, runs):
        print(f"MISS  {CHOSEN} no longer does everything the file storage needs")
        raise SystemExit(1)
    print(f"PASS  {CHOSEN} does everything the file storage needs")


if __name__ == "__main__":
    main()
