import pytest
from chispa import assert_df_equality

from crawlaudit.ingest.domains import host_of, registered_domain_of, snapshot_year, tld_of


@pytest.mark.parametrize("url, host", [
    ("https://news.bbc.co.uk/a?b=c", "news.bbc.co.uk"),
    ("http://User:pw@WWW.Example.COM:8080/x", "www.example.com"),
    ("https://example.org./", "example.org"),
    ("not a url", None),
    ("", None),
    ("http://[::1]/", "::1"),
])
def test_host_of(url, host):
    assert host_of(url) == host


@pytest.mark.parametrize("host, private, expected", [
    ("news.bbc.co.uk", True, "bbc.co.uk"),
    ("a.b.example.com.au", True, "example.com.au"),
    ("alice.blogspot.com", True, "alice.blogspot.com"),
    ("alice.blogspot.com", False, "blogspot.com"),
    ("192.168.1.1", True, "192.168.1.1"),
    ("localhost", True, "localhost"),
    ("an.wikipedia.org", True, "wikipedia.org"),
    (None, True, None),
])
def test_registered_domain_offline_psl(host, private, expected):
    assert registered_domain_of(host, private) == expected


def test_tld_is_last_label():
    assert tld_of("news.bbc.co.uk") == "uk" and tld_of("10.0.0.1") is None


def test_snapshot_year_column(spark):
    df = spark.createDataFrame([("CC-MAIN-2019-35",), ("CC-MAIN-2024-22",), ("junk",)], "snapshot string")
    expected = spark.createDataFrame([("CC-MAIN-2019-35", 2019), ("CC-MAIN-2024-22", 2024), ("junk", None)],
                                     "snapshot string, year int")
    assert_df_equality(df.withColumn("year", snapshot_year("snapshot")), expected, ignore_nullable=True)
