"""Connected components of an undirected graph held as a DataFrame of edges (large-star / small-star).

Kiveris et al., "Connected Components in MapReduce and Beyond" (SoCC 2014): alternate large-star (link every
neighbour larger than a node to the node's smallest neighbour) and small-star (link a node and its smaller
neighbours to the smallest of them) until every edge points at a root; O(log² n) rounds. Only built-in Spark
operations. The label of a component is its
smallest vertex id, so the result does not depend on partitioning or on the order of the edges.
"""
from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from crawlaudit.errors import CrawlauditError
from crawlaudit.session import checkpoint

log = logging.getLogger(__name__)

SRC, DST = "src", "dst"


def _undirected(edges: DataFrame) -> DataFrame:
    return edges.select(SRC, DST).unionByName(edges.select(F.col(DST).alias(SRC), F.col(SRC).alias(DST)))


def _large_star(edges: DataFrame) -> DataFrame:
    adj = _undirected(edges)
    m = adj.groupBy(SRC).agg(F.least(F.min(DST), F.col(SRC)).alias("_m"))  # min over the closed neighbourhood
    # no distinct here: a repeated edge only repeats rows that small-star's min and final distinct absorb
    return adj.join(m, SRC).where(F.col(DST) > F.col(SRC)).select(F.col(DST).alias(SRC), F.col("_m").alias(DST))


def _small_star(edges: DataFrame) -> DataFrame:
    # orient every edge from its larger to its smaller end; then star each node's smaller neighbours on their min
    oriented = edges.select(F.greatest(SRC, DST).alias(SRC), F.least(SRC, DST).alias(DST)).where(F.col(SRC) != F.col(DST))
    m = oriented.groupBy(SRC).agg(F.min(DST).alias("_m"))
    linked = oriented.join(m, SRC).select(F.col(DST).alias(SRC), F.col("_m").alias(DST))
    return linked.unionByName(m.select(F.col(SRC), F.col("_m").alias(DST))).where(F.col(SRC) != F.col(DST)).distinct()


def connected_components(edges: DataFrame, max_rounds: int) -> DataFrame:
    """(vertex, component) for every vertex that has an edge; component = the smallest vertex id in it.

    Columns in: src, dst (any comparable type; self-loops and repeats allowed). Raises CrawlauditError if the
    rounds do not converge within ``max_rounds`` (never seen: it would mean a bug, not a hard graph). Each
    round is checkpointed locally: caching alone would let the plan double with every round.
    """
    current = edges.select(SRC, DST).where(F.col(SRC) != F.col(DST)).distinct().transform(checkpoint)
    for round_no in range(1, max_rounds + 1):
        nxt = _small_star(_large_star(current)).transform(checkpoint)
        # converged when the edges form stars: every child has one parent, and no parent is a child (one
        # aggregation over both ends of every edge)
        ends = nxt.select(F.col(SRC).alias("_v"), F.lit(1).alias("_as_child"), F.lit(0).alias("_as_parent")).unionByName(
            nxt.select(F.col(DST).alias("_v"), F.lit(0).alias("_as_child"), F.lit(1).alias("_as_parent")))
        not_star = ends.groupBy("_v").agg(F.sum("_as_child").alias("_n_parents"), F.max("_as_parent").alias("_is_parent")) \
            .where((F.col("_n_parents") > 1) | ((F.col("_n_parents") >= 1) & (F.col("_is_parent") == 1)))
        if not_star.isEmpty():
            log.info("connected components: converged in %d rounds", round_no)
            return nxt.select(F.col(SRC).alias("vertex"), F.col(DST).alias("component")).unionByName(
                nxt.select(F.col(DST).alias("vertex"), F.col(DST).alias("component"))).distinct()
        current = nxt
    raise CrawlauditError(f"connected components did not converge in {max_rounds} rounds (dedup.max_component_rounds)")
