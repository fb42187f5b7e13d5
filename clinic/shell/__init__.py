"""The application shell: home pages, error pages, demo data, backups and the audit trail pages."""
