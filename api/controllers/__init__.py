"""One controller per resource of the HTTP contract; handlers stay thin."""
