"""arq workers: thin tasks, crons, and the embedded in-process runner."""
