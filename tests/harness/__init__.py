"""The test harness: real Postgres and Redis (from the environment or embedded), isolated per test."""
