"""per_group gives applyInPandas' rows: each group once, whole and in order, also across Arrow batches and
partitions."""
import numpy as np
import pandas as pd

from crawlaudit.metrics.groups import group_starts, per_group

SCHEMA = "g string, h string, n long, first string, ids string, total double, even boolean"


def summary(key, rows):
    return {"n": len(rows), "first": rows["doc_id"].iloc[0], "ids": ",".join(rows["doc_id"]),
            "total": np.float64(rows["x"].sum()), "even": np.bool_(len(rows) % 2 == 0)}


def test_group_starts_split_sorted_keys_and_keep_nulls_together():
    g = np.array(["a", "a", "b", None, None], dtype=object)
    h = np.array(["x", "y", "y", "y", "y"], dtype=object)
    assert group_starts([g]).tolist() == [0, 2, 3]
    assert group_starts([g, h]).tolist() == [0, 1, 2, 3]
    assert group_starts([np.array([], dtype=object)]).tolist() == []


def test_each_group_is_computed_once_on_all_its_rows_in_order_across_batches(spark):
    rng = np.random.default_rng(3)
    # 40 groups of 1 to 700 rows (batches hold 50 rows here, so most groups span several), one with a null key
    sizes = rng.integers(1, 700, size=40)
    rows = [(f"g{k % 7}" if k else None, f"h{k}", f"d{i:05d}", float(i))
            for k, size in enumerate(sizes) for i in rng.permutation(int(size))]
    df = spark.createDataFrame(rows, "g string, h string, doc_id string, x double").repartition(5)
    batch_rows = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "50")
    try:
        got = df.transform(per_group(["g", "h"], ["doc_id"], summary, spark.createDataFrame([], SCHEMA).schema))
        got = got.toPandas().sort_values("h").reset_index(drop=True)
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", batch_rows)
    pdf = pd.DataFrame(rows, columns=["g", "h", "doc_id", "x"])
    want = pd.DataFrame([{"g": g, "h": h, **summary((g, h), part.sort_values("doc_id"))}
                         for (g, h), part in pdf.groupby(["g", "h"], dropna=False, sort=False)])
    want = want.sort_values("h").reset_index(drop=True)
    assert len(got) == 40 and got["n"].sum() == sizes.sum()
    pd.testing.assert_frame_equal(got, want[got.columns], check_dtype=False)
