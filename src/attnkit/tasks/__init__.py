"""attnkit.tasks."""
