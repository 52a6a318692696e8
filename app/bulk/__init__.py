"""Bulk orders and bulk updates: a parent operation whose children are ordinary orders
and updates, carried out by the worker."""
