"""Host OCI hooks: definitions read from a hooks.d directory and injected into specs."""
