"""The feed ledger's earlier formats: one collection for every publisher, rows without an
entry hash, entry hashes stored plain."""

from __future__ import annotations

from collections import Counter, defaultdict

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from directory_svc.storage.documents import Document
from directory_svc.storage.ledger import DUPLICATE_KEY, LEDGER_BATCH, FeedLedger
from directory_svc.storage.migrations.context import MigrationContext

SINGLE = "feed_ledger"
HEADS = "feed_ledger_heads"
MUST_RECONCILE = ""
"""A head's profile fingerprint that matches no profile: the next export reconciles (the
whole directory projected and compared with the rows; every row rewritten with its hash)."""


async def _insert(ctx: MigrationContext, name: str, docs: list[Document]) -> None:
    try:
        await ctx.db[name].insert_many(docs, ordered=False)
    except BulkWriteError as exc:  # rows a killed run inserted already
        if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise


async def drop_single_ledger(ctx: MigrationContext) -> Counter[str]:
    """``feed_ledger`` (rows ``<publisher>|<entry>``) becomes, for each publisher without a
    head, the generation of its last feed and a head that must reconcile; then it is
    dropped. Rows first, heads next, the drop last: a killed run is run again."""
    counts = Counter[str]()
    if SINGLE not in await ctx.db.list_collection_names():
        return counts
    heads = ctx.db[HEADS]
    has_head = {d["_id"] async for d in heads.find({}, {"_id": 1})}
    last_seq: dict[str, int] = defaultdict(int)
    pending: dict[str, list[Document]] = defaultdict(list)
    cursor = ctx.db[SINGLE].find({}).sort("_id", 1).batch_size(ctx.batch)
    rows: list[Document] = [d async for d in cursor]
    for row in rows:
        publisher = row["pub"]
        last_seq[publisher] = max(last_seq[publisher], int(row.get("seq", 0)))
    async for run in ctx.db["export_runs"].find({"status": "succeeded"}, {"pub": 1, "seq": 1}):
        if run["pub"] in last_seq:
            last_seq[run["pub"]] = max(last_seq[run["pub"]], int(run["seq"]))
    for row in rows:
        publisher = row["pub"]
        if publisher in has_head:
            counts["rows left (publisher had a newer ledger)"] += 1
            continue
        keys = {"h": row["h"], "hi": row["hi"], "hn": row["hn"]}
        pending[publisher].append({"_id": row["entry"], **keys, "seq": int(row.get("seq", 0))})
    for publisher, docs in sorted(pending.items()):
        generation = f"g{last_seq[publisher]:08d}"
        counts["rows moved to a generation"] += len(docs)
        counts["publishers given a head"] += 1
        if ctx.dry_run:
            continue
        name = f"{FeedLedger.PREFIX}{generation}_{publisher}"
        for start in range(0, len(docs), ctx.batch):
            await _insert(ctx, name, docs[start : start + ctx.batch])
            ctx.progress(len(docs[start : start + ctx.batch]))
        head = {"gen": generation, "profile": MUST_RECONCILE, "seq": last_seq[publisher]}
        await heads.update_one({"_id": publisher}, {"$setOnInsert": head}, upsert=True)
    if not ctx.dry_run:
        await ctx.db[SINGLE].drop()
    counts["collections dropped"] += 1
    return counts


async def entry_hashes(ctx: MigrationContext) -> Counter[str]:
    """Heads whose rows lack entry hashes must reconcile: their next export computes
    every hash (and the copy digest acknowledgements are checked against)."""
    counts = Counter[str]()
    lacking = {"p": {"$in": ["", None]}, "pk": {"$exists": False}}
    for head in await ctx.db[HEADS].find({}).to_list():  # read whole before writing
        name = f"{FeedLedger.PREFIX}{head['gen']}_{head['_id']}"
        if await ctx.db[name].find_one(lacking, {"_id": 1}) is None:
            continue
        counts["publishers to reconcile"] += 1
        if head.get("profile") == MUST_RECONCILE or ctx.dry_run:
            continue
        update = {"$set": {"profile": MUST_RECONCILE}, "$unset": {"sum": ""}}
        await ctx.db[HEADS].update_one({"_id": head["_id"]}, update)
    return counts


async def keyed_entry_hashes(ctx: MigrationContext) -> Counter[str]:
    """Every row's plain entry hash ``p`` becomes the masked ``pk`` (``storage.ledger``)."""
    counts = Counter[str]()
    plain = {"p": {"$exists": True}}
    for name in sorted(await ctx.db.list_collection_names()):
        if not name.startswith(FeedLedger.PREFIX) or name == HEADS:
            continue
        generation, _, publisher = name.removeprefix(FeedLedger.PREFIX).partition("_")
        if not generation.startswith("g"):
            continue
        rows = ctx.db[name]
        if ctx.dry_run:
            counts["entry hashes masked"] += await rows.count_documents(plain)
            continue
        fields = {"p": 1, "seq": 1}
        while docs := await rows.find(plain, fields).limit(ctx.batch).to_list():
            ops = []
            for d in docs:
                masked = {}
                if d["p"]:
                    public = str(d["p"])
                    masked = {"pk": ctx.ledger.mask(publisher, d["_id"], d.get("seq", 0), public)}
                update: Document = {"$unset": {"p": ""}}
                if masked:
                    update["$set"] = masked
                ops.append(UpdateOne({"_id": d["_id"], **plain}, update))
            for start in range(0, len(ops), LEDGER_BATCH):
                await rows.bulk_write(ops[start : start + LEDGER_BATCH], ordered=True)
            counts["entry hashes masked"] += len(docs)
            ctx.progress(len(docs))
    return counts
