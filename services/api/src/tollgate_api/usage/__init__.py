"""Team-facing reads of credits (balance, transactions, check) and per-job cost aggregation."""
