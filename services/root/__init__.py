"""The composition root: builds every collaborator once and runs them for as long as the service runs."""
