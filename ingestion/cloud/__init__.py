"""What every Azure adapter shares: the credential factory, the retry-after parser, the storage-error translator.

Nothing here is imported by the local stack; ``credentials`` and ``storage_errors`` import Azure SDKs (lazily for
azure.identity), ``retry_after`` is pure.
"""
