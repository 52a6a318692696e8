"""The sync: keeps the mirror (``numbers``) true to seven's list of active numbers."""
