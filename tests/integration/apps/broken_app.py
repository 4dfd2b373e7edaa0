"""An app that cannot be imported: drives crash-loop backoff."""
raise ImportError("broken_app is broken on purpose")
