"""What every domain package stands on: the model base, record mechanics, pages and security."""
