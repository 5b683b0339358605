"""The session's memory settings: checkpoints kept serialized, cached blocks built in chunks G1 does not waste."""
from pyspark.sql import functions as F

from crawlaudit import session


def _stored_rdds(spark):
    return {info.id(): info for info in spark.sparkContext._jsc.sc().getRDDStorageInfo()}


def test_checkpoints_are_stored_serialized_and_keep_their_rows(spark):
    before = set(_stored_rdds(spark))
    df = spark.range(20_000, numPartitions=2).select("id", F.repeat(F.lit("x"), 200).alias("text"))
    kept = df.transform(session.checkpoint)
    assert kept.agg(F.count("*"), F.sum("id"), F.sum(F.length("text"))).first() == (20_000, 199_990_000, 4_000_000)
    new = [info for rdd_id, info in _stored_rdds(spark).items() if rdd_id not in before]
    assert len(new) == 1
    level = new[0].storageLevel()
    assert level.useMemory() and level.useDisk() and not level.deserialized()
    assert new[0].numCachedPartitions() == 2
    assert new[0].memSize() + new[0].diskSize() > 0


def test_cached_blocks_unroll_in_chunks_under_half_of_g1_s_smallest_region(spark):
    """A chunk of half a G1 region or more is a humongous object, each wasting the rest of its region(s)."""
    threshold = spark.sparkContext.getConf().get("spark.storage.unrollMemoryThreshold")
    assert int(threshold) == int(session.UNROLL_CHUNK) < (1 << 20) // 2 - 16
