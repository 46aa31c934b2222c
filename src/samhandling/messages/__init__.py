"""Electronic care messages (PLO) between hospitals and municipal care, with AppRec receipts.

See ``docs/messages.md``: formats and versions, the mapping from message to ``events`` row, the
code lists (rule tables ``messages.*``) and the CLI/HTTP usage.
"""
