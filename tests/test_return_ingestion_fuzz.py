"""Ingestion-level fuzzing: a few hundred randomly damaged arrivals through one real ingestion run.

Each variant starts from one of the shipped samples (data/returns/samples/) and is damaged by a seeded
generator: cut short, bytes flipped, inserted or deleted, emptied, renamed to the other type, the workbook's
parts cut or dropped, sent from another organisation's folder, with a sidecar that is broken, forged or a
link, as a link itself, as a hidden file or in a folder within a folder. The samples are ingested first, so
there are figures in force to protect. Then one run takes every variant, and:

- the run succeeds (no file, sidecar or combination of them fails it),
- every variant is recorded in audit.return_submissions, and the inbox is left empty,
- no rejected file changes staging.department_returns: every figure that changed comes from a file the
  run accepted.

Unexpected errors the checking met (recorded as "could_not_check" rejections: a reader bug, not a crash)
are counted in the test's output, and their files kept under the test's temporary folder.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import time
import zipfile

from pipelines.return_commands import deliver_samples
from tests.conftest import DATA, ingest, query
from tracker.return_inbox import inbox_dir

SEED = int(os.environ.get("RETURNS_FUZZ_SEED", "20260131"))
VARIANTS = int(os.environ.get("RETURNS_FUZZ_VARIANTS", "400"))
SAMPLES = sorted(p for p in (DATA / "returns" / "samples").glob("ILLUSTRATIVE_*"))
ORGANISATIONS = ["D10", "EA73", "EA74", "EA199", "D16"]


def _sample_organisation(name: str) -> str:
    return name.split("_")[1]


def _damage_bytes(rng: random.Random, content: bytes) -> tuple[str, bytes]:
    kind = rng.choice(["truncate", "flip", "insert", "delete", "empty", "duplicate-tail", "none"])
    data = bytearray(content)
    if kind == "truncate":
        return kind, bytes(data[: rng.randrange(0, max(1, len(data)))])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        return kind, bytes(data)
    if kind == "insert":
        i = rng.randrange(len(data) + 1)
        return kind, bytes(data[:i]) + rng.randbytes(rng.randint(1, 64)) + bytes(data[i:])
    if kind == "delete":
        i = rng.randrange(len(data))
        return kind, bytes(data[:i]) + bytes(data[i + rng.randint(1, 64):])
    if kind == "empty":
        return kind, b""
    if kind == "duplicate-tail":
        return kind, content + content[len(content) // 2:]
    return kind, content


def _damage_workbook(rng: random.Random, content: bytes) -> tuple[str, bytes]:
    source = zipfile.ZipFile(io.BytesIO(content))
    names = source.namelist()
    victim = rng.choice([n for n in names if n.startswith("xl/")] or names)
    kind = rng.choice(["cut-part", "drop-part", "garble-part", "retype-cell"])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in names:
            data = source.read(name)
            if name == victim:
                if kind == "drop-part":
                    continue
                if kind == "cut-part":
                    data = data[: rng.randrange(0, max(1, len(data)))]
                elif kind == "garble-part":
                    i = rng.randrange(max(1, len(data)))
                    data = data[:i] + rng.randbytes(16) + data[i + 16:]
            if kind == "retype-cell" and name.startswith("xl/worksheets/"):
                data = data.replace(b't="n"', b't="s"', 1).replace(b"<v>", b"<v>thirty", 1)
            target.writestr(name, data)
    return f"workbook-{kind}:{victim}", out.getvalue()


def _variants(rng: random.Random, outside) -> list[dict]:
    variants = []
    for i in range(VARIANTS):
        sample = rng.choice(SAMPLES)
        content = sample.read_bytes()
        if sample.suffix == ".xlsx" and rng.random() < 0.6:
            damage, content = _damage_workbook(rng, content)
        else:
            damage, content = _damage_bytes(rng, content)
        name = sample.name
        if rng.random() < 0.08:  # the other type's extension
            name = name.rsplit(".", 1)[0] + (".csv" if name.endswith(".xlsx") else ".xlsx")
        organisation = _sample_organisation(sample.name) if rng.random() < 0.8 else rng.choice(ORGANISATIONS)
        how = rng.choices(["deliver", "by-hand", "bad-sidecar", "link", "hidden", "nested"],
                          weights=[55, 15, 12, 8, 5, 5])[0]
        variants.append({"i": i, "tag": f"fz{i:03d}-", "name": name, "content": content, "damage": damage,
                         "organisation": organisation, "how": how,
                         "sidecar": rng.choice(["garbage", "list", "other-org", "forged", "truncated", "link"]),
                         "outside": outside})
    return variants


def _place(home, variant: dict, rng: random.Random) -> None:
    from tracker.return_inbox import deliver

    folder = inbox_dir(home) / variant["organisation"]
    folder.mkdir(parents=True, exist_ok=True)
    name = variant["tag"] + variant["name"]
    how = variant["how"]
    if how in ("deliver", "bad-sidecar"):
        stored = deliver(home, variant["content"], name, variant["organisation"], "fuzz")
        if how == "bad-sidecar":
            sidecar = stored.path.with_name(stored.path.name + ".json")
            doc = json.loads(sidecar.read_text())
            broken = {
                "garbage": rng.randbytes(40),
                "list": b"[]",
                "other-org": json.dumps(doc | {"organisation_code": "D1"}).encode(),
                "forged": json.dumps(doc | {"sha256": "0" * 64}).encode(),
                "truncated": sidecar.read_bytes()[: rng.randrange(1, 40)],
            }.get(variant["sidecar"])
            if broken is None:  # a link to a sidecar outside the inbox
                target = variant["outside"] / f"{variant['tag']}sidecar.json"
                target.write_bytes(sidecar.read_bytes())
                sidecar.unlink()
                sidecar.symlink_to(target)
            else:
                sidecar.write_bytes(broken)
    elif how == "by-hand":
        (folder / name).write_bytes(variant["content"])
    elif how == "link":
        target = variant["outside"] / name
        target.write_bytes(variant["content"])
        (folder / name).symlink_to(target)
    elif how == "hidden":
        (folder / ("." + name)).write_bytes(variant["content"])
    else:
        (folder / f"{variant['tag']}sub").mkdir()
        (folder / f"{variant['tag']}sub" / name).write_bytes(variant["content"])


def test_hundreds_of_damaged_returns_never_fail_a_run_and_never_touch_the_figures(returns_home, tmp_path):
    assert deliver_samples(returns_home, DATA)
    assert ingest(returns_home).success
    before = dict(((o, q), ref) for o, q, ref in query(
        returns_home, "SELECT organisation_code, reporting_quarter, submission_ref FROM staging.department_returns"))
    assert len(before) == 7
    recorded_before = query(returns_home, "SELECT count(*) FROM audit.return_submissions")[0][0]

    rng = random.Random(SEED)
    outside = tmp_path / "outside"
    outside.mkdir()
    variants = _variants(rng, outside)
    for variant in variants:
        _place(returns_home, variant, rng)

    started = time.monotonic()
    result = ingest(returns_home, raise_on_error=False)
    seconds = time.monotonic() - started
    assert result.success, f"seed {SEED}: the run failed"

    rows = query(returns_home, "SELECT submission_ref, file_name, status, summary FROM audit.return_submissions")
    assert len(rows) == recorded_before + len(variants)
    for variant in variants:
        assert any(variant["tag"] in name for _, name, _, _ in rows), (SEED, variant["i"], variant["damage"])
    assert not [p for p in inbox_dir(returns_home).rglob("*") if not p.is_dir()]

    status_of = {ref: status for ref, _, status, _ in rows}
    after = dict(((o, q), ref) for o, q, ref in query(
        returns_home, "SELECT organisation_code, reporting_quarter, submission_ref FROM staging.department_returns"))
    for key, ref in after.items():
        if before.get(key) != ref:  # changed or new: only by a file this run accepted
            assert status_of[ref] in ("accepted", "accepted with warnings"), (SEED, key, ref, status_of[ref])
    rejected = {ref for ref, status in status_of.items() if status == "rejected"}
    assert not rejected & set(after.values())
    for _, _, _, summary in rows:
        assert "Traceback" not in summary and "Error(" not in summary

    unexpected = [name for _, name, _, summary in rows if "could not be checked" in summary]
    kept = tmp_path / "unexpected"
    for variant in variants:
        if any(variant["tag"] in name for name in unexpected):
            kept.mkdir(exist_ok=True)
            (kept / (variant["tag"] + variant["name"])).write_bytes(variant["content"])
    counts: dict[str, int] = {}
    for _, name, status, _ in rows:
        if "fz" in name:
            counts[status] = counts.get(status, 0) + 1
    print(f"\nfuzz seed {SEED}: {len(variants)} variants in {seconds:.1f}s; outcomes {counts}; "
          f"{len(unexpected)} met an unexpected error while checked (kept in {kept if unexpected else '-'})")
    shutil.rmtree(outside)
