"""The console (``/console``): server-rendered pages for people, over the same services as
``/v1``, signed in with an API key."""
