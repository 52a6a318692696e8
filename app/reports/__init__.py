"""Reports over the mirror that point at something to do (idle numbers to release)."""
