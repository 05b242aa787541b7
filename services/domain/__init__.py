"""The domain rules: what a check-in, a download, a rollout or a provisioning means; knows no HTTP."""
