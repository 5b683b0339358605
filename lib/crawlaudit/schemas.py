"""Column names and schemas of every DataFrame and table crawlaudit produces.

Published column names are a contract (dashboards depend on them): change them only with a migration.
"""
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

# --- documents ---------------------------------------------------------------------------------
SNAPSHOT = "snapshot"            # CC-MAIN-YYYY-WW
YEAR = "year"                    # crawl year, from the snapshot id
DOC_ID = "doc_id"                # sha256(snapshot "/" WARC-Record-ID), first 32 hex digits
RECORD_ID = "record_id"          # WARC-Record-ID as in the file
URL = "url"
HOST = "host"
REGISTERED_DOMAIN = "registered_domain"
TLD = "tld"                      # last DNS label of the host ("uk" for news.bbc.co.uk)
WARC_DATE = "warc_date"          # fetch time (UTC)
LANGUAGE = "language"            # ISO 639-3: the header's first code, else detected, else "und" (ingest.language)
LANGUAGE_SOURCE = "language_source"  # header | detected | unknown
TEXT = "text"
N_CHARS = "n_chars"              # characters (code points) of text
FILE = "file"                    # the WET file's URI
OFFSET = "offset"                # byte offset of the record's gzip member in the compressed file

# --- per-document features ---------------------------------------------------------------------
CONTENT_HASH = "content_hash"    # sha1 hex of the normalized text; null when it normalizes to ""
N_TOKENS = "n_tokens"

# --- errors ------------------------------------------------------------------------------------
ERROR_KIND = "error_kind"
MESSAGE = "message"

# Error kinds: record-level kinds count against the record error fraction, file-level against the file one.
RECORD_ERROR_KINDS = (
    "corrupt_gzip",       # a gzip member does not inflate (bad data, CRC or length)
    "truncated_gzip",     # the file ends inside a gzip member
    "missing_header",     # WARC-Target-URI, WARC-Record-ID or WARC-Date missing
    "bad_header",         # a header present but unparseable (date, URL without host)
    "bad_record",         # bytes that are not a WARC record
    "truncated_record",   # fewer content bytes than Content-Length
    "bad_content_length", # more bytes in the record's member than Content-Length says
    "invalid_utf8",       # the text is not valid UTF-8
    "empty_record",       # no text after stripping white space
    "oversized_record",   # larger than input.max_record_bytes
    "duplicate_record_id",  # a WARC-Record-ID met earlier in the snapshot (the first one is kept)
)
FILE_ERROR_KINDS = ("unreadable_file", "fetch_failed", "not_warc")

# The ingest pass emits one combined stream (parsed once, persisted once), told apart by ROW_KIND.
ROW_KIND = "row_kind"
KIND_DOC, KIND_ERROR, KIND_FILE = "doc", "error", "file"
N_RECORDS = "n_records"          # conversion records met in a file (documents + damaged records)
N_BYTES = "n_bytes"              # compressed bytes read from a file


# --- published tables --------------------------------------------------------------------------
N_DOCS = "n_docs"
N_CHARS_TOTAL = "n_chars"
N_EXACT_DUP_DOCS = "n_exact_dup_docs"
EXACT_DUP_FRAC = "exact_dup_frac"
N_CROSS_SNAPSHOT_DUP_DOCS = "n_cross_snapshot_dup_docs"
CROSS_SNAPSHOT_DUP_FRAC = "cross_snapshot_dup_frac"
ENTROPY_BITS = "entropy_bits"
TTR = "ttr"
ENTROPY_MM_BITS = "entropy_miller_madow_bits"
ENTROPY_CS_BITS = "entropy_chao_shen_bits"
ENTROPY_CS_LO = "entropy_chao_shen_lo"
ENTROPY_CS_HI = "entropy_chao_shen_hi"
DISTINCT_1 = "distinct_1"
DISTINCT_2 = "distinct_2"
MATTR = "mattr"
BIGRAM_COND_ENTROPY_BITS = "bigram_cond_entropy_bits"
ZIPF_EXPONENT = "zipf_exponent"
HEAPS_EXPONENT = "heaps_exponent"
GZIP_RATIO = "gzip_ratio"
TAIL_MASS = "tail_mass"
DIVERSITY_EXTRA = [ENTROPY_MM_BITS, ENTROPY_CS_BITS, ENTROPY_CS_LO, ENTROPY_CS_HI, DISTINCT_1, DISTINCT_2, MATTR,
                   BIGRAM_COND_ENTROPY_BITS, ZIPF_EXPONENT, HEAPS_EXPONENT, GZIP_RATIO, TAIL_MASS]
ENTROPY_BUDGET_TOKENS = "entropy_budget_tokens"
ENTROPY_POOLING = "entropy_pooling"   # pooled rows: one-language | language-weighted (metrics.languages); null: none met
ENTROPY_BUDGET_MET = "entropy_budget_met"
N_DOMAINS = "n_domains"
N_FILES = "n_files"
N_FAILED_FILES = "n_failed_files"
N_ERROR_RECORDS = "n_error_records"
ERROR_FRAC = "error_frac"
RUN_ID = "run_id"

# Per-document flags used between metric steps (not published).
IS_EXACT_DUP = "is_exact_dup"
IS_CROSS_SNAPSHOT_DUP = "is_cross_snapshot_dup"

# --- near-duplicates and repeated lines (neardup, repetition, signals) ----------------------------
SIGNATURE = "signature"          # MinHash signature, num_perm uint32 values stored as int
MINHASH_PARAMS = "minhash_params"  # shingle size, permutations, seed: signatures compare only within one value
LINE_HASHES = "line_hashes"      # 64-bit hashes of a document's non-empty normalized lines
SHINGLES = "shingles"            # a document's distinct shingle hashes (verification only, never stored)
DOC_A, DOC_B = "doc_a", "doc_b"  # a candidate or verified pair, doc_a < doc_b
JACCARD = "jaccard"
COMPONENT = "component"          # smallest doc_id of the document's near-duplicate cluster
IS_NEAR_DUP = "is_near_dup"
IS_CROSS_SNAPSHOT_NEAR_DUP = "is_cross_snapshot_near_dup"
REPOST_OF_SNAPSHOT = "repost_of_snapshot"   # the earliest earlier snapshot holding a near-duplicate
REP_SIGNALS = ["rep_dup_line_char_frac", "rep_top_2gram_char_frac", "rep_top_3gram_char_frac",
               "rep_top_4gram_char_frac"] + [f"rep_dup_{n}gram_char_frac" for n in range(5, 11)]

# The ingest pass's combined stream; a document's per-page signals (line hashes, repetition) are computed there.
INGEST_SCHEMA = StructType(
    [
        StructField(ROW_KIND, StringType(), False),
        StructField(SNAPSHOT, StringType(), False),
        StructField(FILE, StringType(), False),
        StructField(OFFSET, LongType(), True),
        StructField(RECORD_ID, StringType(), True),
        StructField(DOC_ID, StringType(), True),
        StructField(URL, StringType(), True),
        StructField(HOST, StringType(), True),
        StructField(REGISTERED_DOMAIN, StringType(), True),
        StructField(TLD, StringType(), True),
        StructField(WARC_DATE, TimestampType(), True),
        StructField(LANGUAGE, StringType(), True),
        StructField(LANGUAGE_SOURCE, StringType(), True),
        StructField(TEXT, StringType(), True),
        StructField(N_CHARS, IntegerType(), True),
        StructField(CONTENT_HASH, StringType(), True),
        StructField(N_TOKENS, IntegerType(), True),
        StructField(LINE_HASHES, ArrayType(LongType(), False), True),
    ]
    + [StructField(name, DoubleType(), True) for name in REP_SIGNALS]
    + [
        StructField(ERROR_KIND, StringType(), True),
        StructField(MESSAGE, StringType(), True),
        StructField(N_RECORDS, LongType(), True),
        StructField(N_BYTES, LongType(), True),
    ]
)
N_NEAR_DUP_DOCS = "n_near_dup_docs"
NEAR_DUP_FRAC = "near_dup_frac"
N_NEAR_DUP_CLUSTERS = "n_near_dup_clusters"   # clusters among the group's documents (a singleton is one)
NEAR_DUP_REMOVABLE_FRAC = "near_dup_removable_frac"
N_CROSS_SNAPSHOT_NEAR_DUP_DOCS = "n_cross_snapshot_near_dup_docs"
CROSS_SNAPSHOT_NEAR_DUP_FRAC = "cross_snapshot_near_dup_frac"
N_LINES = "n_lines"
N_DUP_LINES = "n_dup_lines"
# site templates (templates.py): lines a domain repeats across its pages; the rest of a page is its main content
TEMPLATE_HASHES = "template_hashes"          # a domain's template line hashes in a snapshot (not published)
N_TEMPLATE_LINES = "n_template_lines"        # lines dropped as template (per document, then summed)
HAS_MAIN_CONTENT = "has_main_content"        # the page has text beyond its template (per document)
TEMPLATE_LINE_FRAC = "template_line_frac"    # n_template_lines / n_lines
N_DOCS_TEMPLATE_ONLY = "n_docs_template_only"  # pages with text whose every line is template: never matched
HASHED_TEXT = "hashed_text"                  # what content hashes are of: main (content without template) | page
TEMPLATE_COLUMNS = [N_TEMPLATE_LINES, TEMPLATE_LINE_FRAC, N_DOCS_TEMPLATE_ONLY]
DUP_LINE_FRAC = "dup_line_frac"
NEAR_DUP_COLUMNS = [N_NEAR_DUP_DOCS, NEAR_DUP_FRAC, N_NEAR_DUP_CLUSTERS, NEAR_DUP_REMOVABLE_FRAC,
                    N_CROSS_SNAPSHOT_NEAR_DUP_DOCS, CROSS_SNAPSHOT_NEAR_DUP_FRAC,
                    N_LINES, N_DUP_LINES, DUP_LINE_FRAC, *REP_SIGNALS]
DOC_SIGNATURES_COLUMNS = [SNAPSHOT, DOC_ID, REGISTERED_DOMAIN, MINHASH_PARAMS, SIGNATURE]

# Synthetic (AI-generated) share: per-document scores, then per-group population estimates (see synthetic.py)
AI_MARGIN = "ai_margin"              # detector decision value (log-odds before calibration)
AI_PROB = "ai_prob"                  # calibrated probability that the document is AI-generated
IS_AI_FLAGGED = "is_ai_flagged"      # ai_margin >= the detector's threshold
HAS_MARKER = "has_marker"            # contains a marker word
REF_WORDS = "ref_words"              # indices of the reference words occurring in the document
DETECTOR = "detector"                # the detector's name and training fingerprint
DOC_SCORES_COLUMNS = [SNAPSHOT, DOC_ID, REGISTERED_DOMAIN, DETECTOR, AI_PROB, IS_AI_FLAGGED, HAS_MARKER, REF_WORDS,
                      LANGUAGE]
N_DOCS_SCORED = "n_docs_scored"
N_DOCS_UNSCORED = "n_docs_unscored"          # documents the detector cannot judge (no usable text: fewer than
                                             # synthetic.min_doc_tokens tokens), counted apart, never human or AI
SYNTHETIC_RATIO = "synthetic_ratio"          # the primary estimator's value
SYNTHETIC_RATIO_LO = "synthetic_ratio_lo"    # its 95% bootstrap interval
SYNTHETIC_RATIO_HI = "synthetic_ratio_hi"
SYNTHETIC_METHOD = "synthetic_method"        # which estimator synthetic_ratio is (pacc, acc or mle)
SYNTHETIC_LOW_N = "synthetic_low_n"          # fewer than synthetic.min_docs documents: estimates are null
SYNTHETIC_CC = "synthetic_cc"                # share flagged (biased; for comparison)
SYNTHETIC_ACC = "synthetic_acc"
SYNTHETIC_PACC = "synthetic_pacc"
SYNTHETIC_MLE = "synthetic_mle"
MARKER_DOC_FRAC = "marker_doc_frac"          # share of documents with a marker word
MARKER_EXCESS_LB = "marker_excess_lb"        # Kobak lower bound against the pre-LLM projection
SYNTHETIC_UNINFORMATIVE = "synthetic_uninformative"  # the interval is wider than synthetic.uninformative_width
SYNTHETIC_BASELINE = "synthetic_baseline"    # the human side used: labeled | vintage | vintage-domain
SYNTHETIC_BASELINE_N_DOCS = "synthetic_baseline_n_docs"  # vintage documents behind it (the domain's own for
                                                         # vintage-domain domain rows); null for labeled
SYNTHETIC_ESTIMATES = [SYNTHETIC_CC, SYNTHETIC_ACC, SYNTHETIC_PACC, SYNTHETIC_MLE]
SYNTHETIC_COLUMNS = [N_DOCS_SCORED, SYNTHETIC_RATIO, SYNTHETIC_RATIO_LO, SYNTHETIC_RATIO_HI, SYNTHETIC_METHOD,
                     SYNTHETIC_LOW_N, *SYNTHETIC_ESTIMATES, MARKER_DOC_FRAC, MARKER_EXCESS_LB, SYNTHETIC_UNINFORMATIVE,
                     SYNTHETIC_BASELINE, SYNTHETIC_BASELINE_N_DOCS]

# languages (metrics.languages): a group's most frequent known language, its share of the group's documents, and
# how many known languages the group has; the domain's entropy is measured on its primary language's documents
PRIMARY_LANGUAGE = "primary_language"
PRIMARY_LANGUAGE_SHARE = "primary_language_share"
N_LANGUAGES = "n_languages"
LANGUAGE_COLUMNS = [PRIMARY_LANGUAGE, PRIMARY_LANGUAGE_SHARE, N_LANGUAGES]
# documents in languages the detector does not declare (und included): never scored, counted apart (part of
# n_docs_unscored); null without a detector
N_DOCS_UNSUPPORTED = "n_docs_unsupported"
SYNTHETIC_UNSUPPORTED_FRAC = "synthetic_unsupported_frac"
UNSUPPORTED_COLUMNS = [N_DOCS_UNSUPPORTED, SYNTHETIC_UNSUPPORTED_FRAC]

LANGUAGE_SHARE = "language_share"           # the language's documents / the snapshot's
N_DOCS_DETECTED = "n_docs_detected"         # documents whose language was detected (no usable header)

FIRST_SNAPSHOT = "first_snapshot"
FIRST_URL = "first_url"

DOMAIN_STATS_COLUMNS = [
    SNAPSHOT, YEAR, REGISTERED_DOMAIN, N_DOCS, N_TOKENS, N_CHARS_TOTAL,
    N_EXACT_DUP_DOCS, EXACT_DUP_FRAC, N_CROSS_SNAPSHOT_DUP_DOCS, CROSS_SNAPSHOT_DUP_FRAC, *NEAR_DUP_COLUMNS,
    ENTROPY_BITS, TTR, *DIVERSITY_EXTRA, ENTROPY_BUDGET_TOKENS, ENTROPY_BUDGET_MET, *SYNTHETIC_COLUMNS, N_DOCS_UNSCORED,
    *TEMPLATE_COLUMNS, *LANGUAGE_COLUMNS, *UNSUPPORTED_COLUMNS, RUN_ID,
]
SNAPSHOT_STATS_COLUMNS = [
    SNAPSHOT, YEAR, N_DOMAINS, N_DOCS, N_TOKENS, N_CHARS_TOTAL,
    N_EXACT_DUP_DOCS, EXACT_DUP_FRAC, N_CROSS_SNAPSHOT_DUP_DOCS, CROSS_SNAPSHOT_DUP_FRAC, *NEAR_DUP_COLUMNS,
    ENTROPY_BITS, TTR, *DIVERSITY_EXTRA, ENTROPY_BUDGET_TOKENS, ENTROPY_BUDGET_MET, *SYNTHETIC_COLUMNS, N_DOCS_UNSCORED,
    *TEMPLATE_COLUMNS, N_FILES, N_FAILED_FILES, N_RECORDS, N_ERROR_RECORDS, ERROR_FRAC, *LANGUAGE_COLUMNS,
    *UNSUPPORTED_COLUMNS, ENTROPY_POOLING, RUN_ID,
]
# one row per (snapshot, language): the snapshot measured language by language (the reuse and synthetic columns
# are refreshed with the domain and snapshot rows when an earlier snapshot is audited later)
LANGUAGE_STATS_COLUMNS = [
    SNAPSHOT, YEAR, LANGUAGE, N_DOCS, LANGUAGE_SHARE, N_DOCS_DETECTED, N_DOMAINS, N_TOKENS, N_CHARS_TOTAL,
    N_EXACT_DUP_DOCS, EXACT_DUP_FRAC, N_CROSS_SNAPSHOT_DUP_DOCS, CROSS_SNAPSHOT_DUP_FRAC, N_NEAR_DUP_DOCS,
    NEAR_DUP_FRAC, N_NEAR_DUP_CLUSTERS, NEAR_DUP_REMOVABLE_FRAC, N_CROSS_SNAPSHOT_NEAR_DUP_DOCS,
    CROSS_SNAPSHOT_NEAR_DUP_FRAC, N_LINES, N_DUP_LINES, DUP_LINE_FRAC, ENTROPY_BITS, TTR, *DIVERSITY_EXTRA,
    ENTROPY_BUDGET_TOKENS, ENTROPY_BUDGET_MET, *SYNTHETIC_COLUMNS, N_DOCS_UNSCORED, RUN_ID,
]
N_SNAPSHOTS = "n_snapshots"
TOKENS = "tokens"
YEAR_STATS_COLUMNS = [
    YEAR, N_SNAPSHOTS, N_DOCS, N_TOKENS, N_EXACT_DUP_DOCS, EXACT_DUP_FRAC, N_CROSS_SNAPSHOT_DUP_DOCS,
    CROSS_SNAPSHOT_DUP_FRAC, N_NEAR_DUP_DOCS, NEAR_DUP_FRAC, N_CROSS_SNAPSHOT_NEAR_DUP_DOCS,
    CROSS_SNAPSHOT_NEAR_DUP_FRAC, N_LINES, N_DUP_LINES, DUP_LINE_FRAC, ENTROPY_BITS, TTR, *DIVERSITY_EXTRA, ENTROPY_BUDGET_TOKENS, ENTROPY_BUDGET_MET,
    *SYNTHETIC_COLUMNS, N_DOCS_UNSCORED, *UNSUPPORTED_COLUMNS, ENTROPY_POOLING,
]
# one row per (year, language): the year's snapshots pooled language by language (counts summed from language_stats,
# entropy from the year's samples of the language, the synthetic share over the year's scores in the language)
YEAR_LANGUAGE_STATS_COLUMNS = [
    YEAR, LANGUAGE, N_SNAPSHOTS, N_DOCS, LANGUAGE_SHARE, N_DOCS_DETECTED, N_TOKENS, N_CHARS_TOTAL, N_EXACT_DUP_DOCS,
    EXACT_DUP_FRAC, N_CROSS_SNAPSHOT_DUP_DOCS, CROSS_SNAPSHOT_DUP_FRAC, N_NEAR_DUP_DOCS, NEAR_DUP_FRAC,
    N_CROSS_SNAPSHOT_NEAR_DUP_DOCS, CROSS_SNAPSHOT_NEAR_DUP_FRAC, N_LINES, N_DUP_LINES, DUP_LINE_FRAC, ENTROPY_BITS,
    TTR, *DIVERSITY_EXTRA, ENTROPY_BUDGET_TOKENS, ENTROPY_BUDGET_MET, *SYNTHETIC_COLUMNS, N_DOCS_UNSCORED,
]
TOKEN_SAMPLES_COLUMNS = [SNAPSHOT, LANGUAGE, DOC_ID, TOKENS]   # one budget sample per (snapshot, language)
INGEST_ERRORS_COLUMNS = [SNAPSHOT, FILE, OFFSET, RECORD_ID, ERROR_KIND, MESSAGE, RUN_ID]
CONTENT_HASHES_COLUMNS = [CONTENT_HASH, FIRST_SNAPSHOT, FIRST_URL, HASHED_TEXT]
# every document's content hash, kept so a snapshot's reuse of earlier ones is re-measured when an earlier snapshot
# is audited after it (content_hashes only knows each hash's first snapshot); with where to re-read the record and
# its near-duplicate cluster (component), the per-document evidence a curation export starts from
DOC_HASHES_COLUMNS = [SNAPSHOT, DOC_ID, REGISTERED_DOMAIN, CONTENT_HASH, HASHED_TEXT, LANGUAGE, LANGUAGE_SOURCE, URL,
                      FILE, OFFSET, RECORD_ID, COMPONENT]
# the columns that depend on which earlier snapshots were audited (refreshed when one is audited later)
REUSE_COLUMNS = [N_CROSS_SNAPSHOT_DUP_DOCS, CROSS_SNAPSHOT_DUP_FRAC, N_CROSS_SNAPSHOT_NEAR_DUP_DOCS,
                 CROSS_SNAPSHOT_NEAR_DUP_FRAC]

AUDIT_RUNS_SCHEMA = StructType(
    [
        StructField(RUN_ID, StringType(), False),
        StructField(SNAPSHOT, StringType(), False),
        StructField("started_at", TimestampType(), False),
        StructField("finished_at", TimestampType(), True),
        StructField("status", StringType(), False),      # running | succeeded | failed | validation_failed
        StructField("config", StringType(), True),       # JSON of the effective config
        StructField("code_version", StringType(), True),
        StructField("counts", MapType(StringType(), LongType()), True),
        StructField(MESSAGE, StringType(), True),
    ]
)

# One row per expectation per validation (quality.py): which check, on which table, passed or not, and what was seen.
VALIDATION_RESULTS_SCHEMA = StructType(
    [
        StructField(RUN_ID, StringType(), False),
        StructField(SNAPSHOT, StringType(), False),
        StructField("table_name", StringType(), False),
        StructField("suite_version", IntegerType(), False),
        StructField("expectation", StringType(), False),     # the check's name, e.g. between[0,1]:exact_dup_frac
        StructField("expectation_type", StringType(), False),  # the Great Expectations type
        StructField("severity", StringType(), False),        # critical | warning
        StructField("success", BooleanType(), False),
        StructField("observed", StringType(), True),         # JSON: observed value, counts, sample values and rows
        StructField("validated_at", TimestampType(), False),
    ]
)
