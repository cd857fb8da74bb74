"""The offline review engine: the real program under the Pulumi mock engine, an emulated AWS provider,
and what changes between two runs."""
