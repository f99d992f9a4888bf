"""The router admin API as the api sees it: virtual keys for teams, and forwarding of providers and
deployments so operators have one place to work."""
