"""The exception hierarchy: every error crawlaudit raises on purpose is a CrawlauditError."""


class CrawlauditError(Exception):
    """Base class of crawlaudit's own errors."""


class ConfigError(CrawlauditError):
    """A configuration file, key or command-line value is invalid."""


class InputError(CrawlauditError):
    """The input (manifest, paths, snapshot id) cannot be resolved."""


class ManifestError(InputError):
    """A manifest line is unsafe or malformed (absolute path, '..', foreign scheme or host)."""


class FetchError(CrawlauditError):
    """A remote file could not be fetched within the configured retries."""


class ValidationFailed(CrawlauditError):
    """A critical expectation failed: nothing was published; the results are in ``quarantine``."""

    def __init__(self, message: str, quarantine: str | None = None):
        super().__init__(message)
        self.quarantine = quarantine
