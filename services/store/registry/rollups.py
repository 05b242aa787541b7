"""Old check-in history, downsampled: raw samples become hourly summaries, hourly ones daily, then go."""

from __future__ import annotations

import aiosqlite

HOUR, DAY = 3600, 86400

# The latest sample's version in a group: the time, zero-padded to a fixed width, sorts the concatenation.
_LATEST_VERSION = "substr(max(printf('%020.6f', {at}) || ifnull(version, '')), 21)"
# On a bucket already summarised by an earlier run (the cut falls inside an hour), merge the two.
_MERGE = """
ON CONFLICT (mac, span_s, start) DO UPDATE SET
    samples = samples + excluded.samples,
    rssi_min = min(coalesce(rssi_min, excluded.rssi_min), coalesce(excluded.rssi_min, rssi_min)),
    rssi_max = max(coalesce(rssi_max, excluded.rssi_max), coalesce(excluded.rssi_max, rssi_max)),
    rssi_avg = (coalesce(rssi_avg, excluded.rssi_avg) * samples
                + coalesce(excluded.rssi_avg, rssi_avg) * excluded.samples) / (samples + excluded.samples),
    heap_min = min(coalesce(heap_min, excluded.heap_min), coalesce(excluded.heap_min, heap_min)),
    uptime_max = max(coalesce(uptime_max, excluded.uptime_max), coalesce(excluded.uptime_max, uptime_max)),
    version = coalesce(excluded.version, version)
"""


async def downsample(
    conn: aiosqlite.Connection, *, raw_before: float, hourly_before: float, daily_before: float
) -> dict[str, int]:
    """Summarise raw samples older than `raw_before` by hour and hourly ones older than `hourly_before` by day;
    drop daily ones older than `daily_before`. Returns how many rows of each kind went."""
    await conn.execute(
        "INSERT INTO checkin_rollups"
        " (mac, span_s, start, samples, rssi_min, rssi_max, rssi_avg, heap_min, uptime_max, version)"
        f" SELECT mac, {HOUR}, CAST(at / {HOUR} AS INTEGER) * {HOUR}.0, count(*), min(rssi), max(rssi), avg(rssi),"
        f" min(free_heap), max(uptime_s), {_LATEST_VERSION.format(at='at')}"
        " FROM checkins WHERE at < ? GROUP BY mac, CAST(at / 3600 AS INTEGER)" + _MERGE,
        (raw_before,),
    )
    raw = await conn.execute("DELETE FROM checkins WHERE at < ?", (raw_before,))
    await conn.execute(
        "INSERT INTO checkin_rollups"
        " (mac, span_s, start, samples, rssi_min, rssi_max, rssi_avg, heap_min, uptime_max, version)"
        f" SELECT mac, {DAY}, CAST(start / {DAY} AS INTEGER) * {DAY}.0, sum(samples), min(rssi_min), max(rssi_max),"
        f" sum(rssi_avg * samples) / sum(samples), min(heap_min), max(uptime_max),"
        f" {_LATEST_VERSION.format(at='start')}"
        f" FROM checkin_rollups WHERE span_s = {HOUR} AND start < ?"
        f" GROUP BY mac, CAST(start / {DAY} AS INTEGER)" + _MERGE,
        (hourly_before,),
    )
    hourly = await conn.execute(f"DELETE FROM checkin_rollups WHERE span_s = {HOUR} AND start < ?", (hourly_before,))
    daily = await conn.execute(f"DELETE FROM checkin_rollups WHERE span_s = {DAY} AND start < ?", (daily_before,))
    return {"checkins": raw.rowcount, "hourly": hourly.rowcount, "daily": daily.rowcount}
